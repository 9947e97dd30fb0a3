//! Sealing plaintext forms through the vault.

use std::collections::HashMap;

use domain::form::Form;
use domain::personal::Sealed;
use event_store::vault::{self, Revealed, Vault, VaultError};
use uuid::Uuid;

/// Seal one value for `person`.
pub async fn one(vault: &Vault, person: Uuid, text: &str) -> Result<Sealed, VaultError> {
    let s = vault.seal(person, text.trim()).await?;
    metrics::counter!("vault_operations_total", "operation" => "seal").increment(1);
    Ok(Sealed {
        person: s.person,
        sealed: s.sealed,
    })
}

/// Open one sealed value.
pub async fn open(v: &Vault, sealed: &Sealed) -> Result<Revealed, VaultError> {
    metrics::counter!("vault_operations_total", "operation" => "open").increment(1);
    v.open(&vault::Sealed {
        person: sealed.person,
        sealed: sealed.sealed.clone(),
    })
    .await
}

/// Seal every personal value of a form. Values unchanged from `previous`
/// keep their old ciphertext, so an amendment that leaves a name alone is
/// seen by the domain as leaving it alone (ciphertexts differ per sealing).
pub async fn form(
    vault: &Vault,
    form: &Form<String>,
    previous: Option<&Form<Sealed>>,
) -> Result<Form<Sealed>, VaultError> {
    let mut reuse: HashMap<(Uuid, String), Sealed> = HashMap::new();
    if let Some(previous) = previous {
        let mut old = Vec::new();
        previous
            .clone()
            .map_personal(&mut |_, s: Sealed| old.push(s));
        for sealed in old {
            if let Revealed::Value(text) = open(vault, &sealed).await? {
                reuse.insert((sealed.person, text), sealed);
            }
        }
    }
    let mut sealed = Vec::new();
    for (person, text) in form.personal_values() {
        let text = text.trim().to_owned();
        match reuse.get(&(person, text.clone())) {
            Some(s) => sealed.push(s.clone()),
            None => sealed.push(one(vault, person, &text).await?),
        }
    }
    let mut values = sealed.into_iter();
    Ok(form
        .clone()
        .map_personal(&mut |_, _| values.next().expect("one sealed value per personal value")))
}
