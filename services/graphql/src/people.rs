//! The people directory: who each staff id is, searched by name, for
//! forms that name colleagues; and the admin's import of it.

use async_graphql::{Context, Object, SimpleObject};
use domain::Role;

use super::{app, with_role};
use crate::errors::{self, Result};

/// A member of staff as the directory lists them.
#[derive(SimpleObject, Debug, Clone)]
pub struct Person {
    /// Their id at the identity provider: what forms store.
    pub subject: String,
    /// Their name (null once erased).
    pub name: Option<String>,
    /// Their work email, when listed (null once erased).
    pub email: Option<String>,
    /// Their job title, when listed (null once erased).
    pub job_title: Option<String>,
    /// Their organisational unit, when listed.
    pub unit: Option<String>,
}

/// A row of an import file that could not be listed.
#[derive(SimpleObject, Debug, Clone)]
pub struct PeopleImportProblem {
    /// The line (the header is line 1).
    pub line: i64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// What is wrong (never the value).
    pub problem: String,
}

/// What an import did.
#[derive(SimpleObject, Debug, Clone)]
pub struct PeopleImportReport {
    /// People listed (new, or with changed details).
    pub listed: i64,
    /// Rows that said what was already listed.
    pub unchanged: i64,
    /// The log position of the last listing (0 when none).
    pub position: i64,
    /// Every bad row; when there is any, nothing was listed.
    pub problems: Vec<PeopleImportProblem>,
}

/// Reads of the directory.
#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// Staff whose names hold every word of `search` as the start of a word
    /// ("mor man" finds Morgan Manager), most recently listed first
    /// (signed-in staff). People are listed when they sign in to the staff
    /// app, and by an admin's import.
    async fn people(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret, desc = "Words of the name, at least 2 letters in all.")] search: String,
        #[graphql(desc = "How many (1 to 50, default 10).")] first: Option<i32>,
        #[graphql(desc = "Wait (bounded) until the directory reaches this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Vec<Person>> {
        let _turn = super::pool_turn(ctx).await;
        // Any member of staff; an integration is no one's colleague.
        let viewer = super::signed_in(ctx)?;
        if domain::access::integration_only(&viewer.actor) {
            return Err(errors::forbidden(
                "an integration may not search the people directory",
            ));
        }
        let letters = search.chars().filter(|c| c.is_alphanumeric()).count();
        if letters < 2 {
            return Err(errors::bad_input(
                "search",
                "give at least 2 letters of the name",
            ));
        }
        if search.chars().count() > 200 {
            return Err(errors::bad_input(
                "search",
                "must be at most 200 characters",
            ));
        }
        let n = i64::from(first.unwrap_or(10));
        if !(1..=50).contains(&n) {
            return Err(errors::bad_input("first", "must be between 1 and 50"));
        }
        let app = app(ctx)?;
        if let Some(p) = at_least_position {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            while app::directory::indexed_position(&app.pool).await? < p
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        let subjects = app::directory::search(&app.pool, &app.vault, &search, n).await?;
        let mut out = Vec::with_capacity(subjects.len());
        for subject in subjects {
            if let Some(p) = listed(ctx, &subject).await? {
                out.push(p);
            }
        }
        Ok(out)
    }
}

/// What the directory lists for `subject`, personal values opened; `None`
/// when never listed.
pub(crate) async fn listed(ctx: &Context<'_>, subject: &str) -> Result<Option<Person>> {
    let Some(d) = app::directory::listed(&app(ctx)?.store, subject).await? else {
        return Ok(None);
    };
    let reveal = |s| super::types::reveal(ctx, s);
    let name = reveal(&d.name).await?;
    let email = match &d.email {
        Some(e) => reveal(e).await?,
        None => None,
    };
    let job_title = match &d.job_title {
        Some(t) => reveal(t).await?,
        None => None,
    };
    Ok(Some(Person {
        subject: d.subject,
        name,
        email,
        job_title,
        unit: d.unit,
    }))
}

/// Changes to the directory.
#[derive(Default)]
pub struct PeopleMutation;

#[Object]
impl PeopleMutation {
    /// List people from a CSV file (admin): columns `subject` and `name`,
    /// and optionally `email`, `job_title`, `unit`, in any order. Every row
    /// is checked first; if any is wrong, nothing is listed and every
    /// problem is reported. Rows that say what is already listed are left
    /// alone, so a file may be imported again.
    async fn import_people(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            secret,
            desc = "The file's contents (CSV, UTF-8, first line the column names)."
        )]
        csv: String,
        #[graphql(desc = "The file's name, recorded with each listing.")] file_name: String,
    ) -> Result<PeopleImportReport> {
        with_role(ctx, &[Role::Admin])?;
        let meta = super::request_meta(ctx, None, None)?;
        match app(ctx)?
            .handler
            .import_people(&file_name, &csv, &meta)
            .await
        {
            Ok(r) => Ok(PeopleImportReport {
                listed: r.listed as i64,
                unchanged: r.unchanged as i64,
                position: r.position,
                problems: Vec::new(),
            }),
            Err(app::commands::PeopleImportError::Rows(problems)) => Ok(PeopleImportReport {
                listed: 0,
                unchanged: 0,
                position: 0,
                problems: problems
                    .into_iter()
                    .map(|p| PeopleImportProblem {
                        line: p.line as i64,
                        column: p.column,
                        problem: p.problem,
                    })
                    .collect(),
            }),
            Err(app::commands::PeopleImportError::Handle(e)) => Err(e.into()),
        }
    }
}
