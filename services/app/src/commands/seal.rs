//! Sealing plaintext through the vault, for one command at a time.
//!
//! A [`Sealer`] reads the keys it needs and makes keys for people new to the
//! vault in memory only; the command's append stores them with its events.

use std::collections::HashMap;

use domain::form::Form;
use domain::personal::Sealed;
use event_store::vault::{self, Revealed, Sealer, Vault, VaultError};
use uuid::Uuid;

fn to_vault(s: &Sealed) -> vault::Sealed {
    vault::Sealed {
        person: s.person,
        sealed: s.sealed.clone(),
    }
}

/// Seal one value for `person` within a command's sealing.
pub async fn one(sealer: &mut Sealer<'_>, person: Uuid, text: &str) -> Result<Sealed, VaultError> {
    let s = sealer.seal(person, text.trim()).await?;
    Ok(Sealed {
        person: s.person,
        sealed: s.sealed,
    })
}

/// Open one sealed value.
pub async fn open(v: &Vault, sealed: &Sealed) -> Result<Revealed, VaultError> {
    metrics::counter!("vault_operations_total", "operation" => "open").increment(1);
    v.open(&to_vault(sealed)).await
}

/// Seal every personal value of a form. Values unchanged from `previous`
/// keep their old ciphertext, so an amendment that leaves a name alone is
/// seen by the domain as leaving it alone (ciphertexts differ per sealing).
pub async fn form(
    sealer: &mut Sealer<'_>,
    form: &Form<String>,
    previous: Option<&Form<Sealed>>,
) -> Result<Form<Sealed>, VaultError> {
    let plain = form.personal_values();
    let mut persons: Vec<Uuid> = plain.iter().map(|(p, _)| *p).collect();
    let old: Vec<Sealed> = previous
        .map(|f| f.personal_fields().into_iter().map(|(_, s)| s).collect())
        .unwrap_or_default();
    persons.extend(old.iter().map(|s| s.person));
    sealer.load(&persons).await?;
    let mut reuse: HashMap<(Uuid, String), Sealed> = HashMap::new();
    for sealed in old {
        if let Revealed::Value(text) = sealer.open(&to_vault(&sealed)).await? {
            reuse.insert((sealed.person, text), sealed);
        }
    }
    let mut sealed = Vec::with_capacity(plain.len());
    for (person, text) in plain {
        let text = text.trim().to_owned();
        match reuse.get(&(person, text.clone())) {
            Some(s) => sealed.push(s.clone()),
            None => sealed.push(one(sealer, person, &text).await?),
        }
    }
    let mut values = sealed.into_iter();
    Ok(form
        .clone()
        .map_personal(&mut |_, _| values.next().expect("one sealed value per personal value")))
}
