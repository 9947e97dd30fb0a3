// Progressive enhancement only: every page works without this file.
// GOV.UK Frontend's components (error summary focus, buttons that ignore a
// double click, the header's menu on a phone).
import { initAll } from '/staff/assets/govuk-frontend.min.js'
document.body.classList.add('govuk-frontend-supported', 'js-enabled')
initAll()
