//! Tearing down a throwaway engine: its keys destroyed in the backend.

use super::Kms;
use super::import::TOKEN_KEY_NAME;
use crate::backend::KeyBlob;
use crate::error::Result;
use crate::key_id::KEY_ID_LEN;

impl Kms {
    /// Destroys in the backend every key this engine's store refers to: each CMK's
    /// material (every generation), the wrapping keys of import tokens not yet used, and the import-token key.
    /// The store keeps its records, which no longer open.
    ///
    /// For engines whose keys are never meant to outlive them, such as a benchmark's on a
    /// PKCS#11 token shared with real keys. Never call it on a store that holds keys anyone
    /// needs: the blobs those keys sealed become undecryptable.
    ///
    /// # Errors
    /// Store and backend failures; keys not yet destroyed stay.
    pub fn destroy_all_keys(self) -> Result<()> {
        for record in self.store.list_keys()? {
            for blob in record.all_materials() {
                self.backend.destroy_key(blob)?;
            }
        }
        // At the end of time every import token has expired.
        for import in self.store.take_expired_imports(u64::MAX)? {
            self.backend.destroy_key(&import.wrapping_key)?;
        }
        if let Some(record) = self.store.engine_key(TOKEN_KEY_NAME)? {
            let blob = record.as_bytes().get(KEY_ID_LEN..).unwrap_or_default();
            self.backend.destroy_key(&KeyBlob::new(blob.to_vec()))?;
        }
        Ok(())
    }
}
