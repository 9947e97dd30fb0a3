//! A person using the staff app over real HTTP, as a browser without
//! JavaScript would: a session cookie, forms posted as
//! `application/x-www-form-urlencoded`, redirects followed by hand (so a
//! test sees each answer).

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

/// One person's browser.
#[derive(Clone)]
pub struct Browser {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
    cookie: Option<String>,
}

/// A page as answered.
#[derive(Debug, Clone)]
pub struct Page {
    /// The final status.
    pub status: StatusCode,
    /// The final path (after redirects).
    pub path: String,
    /// The HTML.
    pub html: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.html.find(marker).expect("a form with a CSRF token") + marker.len();
        self.html[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Browser {
    /// A browser with no session.
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            cookie: None,
        }
    }

    async fn follow(&mut self, mut response: reqwest::Response, mut path: String) -> Page {
        loop {
            for v in response.headers().get_all(SET_COOKIE) {
                let v = v.to_str().unwrap_or_default();
                if let Some(pair) = v.split(';').next() {
                    if pair.ends_with('=') {
                        self.cookie = None;
                    } else {
                        self.cookie = Some(pair.to_owned());
                    }
                }
            }
            if response.status().is_redirection() {
                let to = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("/")
                    .to_owned();
                if !to.starts_with('/') {
                    return Page {
                        status: response.status(),
                        path: to,
                        html: String::new(),
                    };
                }
                path = to;
                response = self
                    .request(reqwest::Method::GET, &path)
                    .send()
                    .await
                    .expect("GET");
                continue;
            }
            let status = response.status();
            let html = response.text().await.unwrap_or_default();
            return Page { status, path, html };
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            r = r.header(COOKIE, c);
        }
        r
    }

    /// GET a page, following redirects.
    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET");
        self.follow(response, path.to_owned()).await
    }

    /// POST a form, following redirects.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .request(reqwest::Method::POST, path)
            .form(form)
            .send()
            .await
            .expect("POST");
        self.follow(response, path.to_owned()).await
    }

    /// The session cookie (`name=value`), once signed in.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// Sign in as a demonstration person (development only).
    pub async fn dev_sign_in(&mut self, subject: &str) -> Page {
        self.post(
            "/staff/dev-sign-in",
            &[("subject", subject), ("return_to", "/staff")],
        )
        .await
    }
}
