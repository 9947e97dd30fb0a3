// Progressive enhancement only: every page works without this file.
// GOV.UK Frontend's components (error summary focus, buttons that ignore a
// double click, the header's menu on a phone), and the live queue of
// "What waits for you".
import { initAll } from '/staff/assets/govuk-frontend.min.js'
document.body.classList.add('govuk-frontend-supported', 'js-enabled')
initAll()

// What waits for you, kept current: the page subscribes (graphql-transport-ws,
// signed in by the session cookie) to myQueueChanged, from the log position
// its queue reflects, and on each step fetches the page again at
// that position and swaps in the new queue. The server renders the queue;
// this only decides when to fetch it.
const region = document.getElementById('queue-region')
if (region && 'WebSocket' in window) {
  const status = document.getElementById('live-status')
  const live = region.dataset.live === 'yes'
  let seen = Number(region.dataset.position || 0)
  let fetching = Promise.resolve()
  let retry = 1000

  const refresh = (position) => {
    fetching = fetching.then(async () => {
      if (position <= Number(region.dataset.position || 0)) return
      const response = await fetch(`/staff?after=${position}`, { credentials: 'same-origin' })
      if (!response.ok || !response.url.endsWith(`/staff?after=${position}`)) {
        status.textContent = 'Your session has ended. Reload the page to sign in again.'
        return
      }
      const next = new DOMParser()
        .parseFromString(await response.text(), 'text/html')
        .getElementById('queue-region')
      if (next) {
        region.replaceChildren(...next.childNodes)
        region.dataset.position = next.dataset.position
      }
    }).catch(() => {
      status.textContent = 'Could not update the list. Reload the page to see the latest.'
    })
  }

  const connect = () => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const socket = new WebSocket(`${scheme}//${location.host}/graphql/ws`, 'graphql-transport-ws')
    socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} }))
    socket.onmessage = (message) => {
      const m = JSON.parse(message.data)
      if (m.type === 'connection_ack') {
        retry = 1000
        socket.send(JSON.stringify({
          id: '1',
          type: 'subscribe',
          payload: {
            query: 'subscription($p: Int) { myQueueChanged(fromPosition: $p) }',
            variables: { p: seen }
          }
        }))
        status.textContent = 'This list updates as things happen.'
      } else if (m.type === 'next' && m.payload && m.payload.data) {
        const position = m.payload.data.myQueueChanged
        seen = Math.max(seen, position)
        refresh(position)
      } else if (m.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }))
      }
    }
    socket.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) {
        status.textContent = 'Your session has ended. Reload the page to sign in again.'
        return
      }
      status.textContent = 'Reconnecting…'
      setTimeout(connect, retry)
      retry = Math.min(retry * 2, 30000)
    }
  }
  if (live) connect()
}

// The person picker's live search: as a name is typed, the same list the
// "Find" button shows is fetched and shown under the field (POSTed with the
// form's CSRF token; a name never goes into a URL). "Choose" still posts
// the form, so the server keeps the person's id and shows their name.
for (const picker of document.querySelectorAll('[data-person-picker]')) {
  const search = picker.querySelector('[data-picker-search]')
  const results = picker.querySelector('[data-picker-results]')
  const form = picker.closest('form')
  if (!search || !results || !form) continue
  let timer = null
  let asked = ''
  const ask = async () => {
    const words = search.value.trim()
    if (words === asked) return
    asked = words
    if (words.replace(/[^\p{L}\p{N}]/gu, '').length < 2) {
      results.replaceChildren()
      return
    }
    const body = new URLSearchParams({
      csrf: form.querySelector('input[name="csrf"]').value,
      for: picker.dataset.personPicker,
      search: words
    })
    try {
      const response = await fetch('/staff/people', { method: 'POST', body, credentials: 'same-origin' })
      if (!response.ok || words !== search.value.trim()) return
      results.innerHTML = await response.text()
    } catch (_) {
      // The "Find" button still works.
    }
  }
  search.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(ask, 200)
  })
  search.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault()
      clearTimeout(timer)
      ask()
    }
  })
}
