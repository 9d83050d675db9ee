//! The credentials that sign our PUTs, fetched from the SDK's provider chain (static keys,
//! environment, profile, instance role) and kept until shortly before they expire.
//!
//! The SDK caches identities inside its orchestrator, which [`super::client`] does not use, so
//! the cache is ours: one read lock per request while the credentials are fresh; a refresh
//! is fetched by one task while the others wait for it instead of all asking the
//! instance-metadata service at once.

use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_s3::error::DisplayErrorContext;

use crate::storage::StorageError;

/// Credentials that expire sooner than this are refreshed before use: a 60 s upload
/// signed with them is still valid when S3 checks it, and role credentials (refreshed by
/// AWS hours before they expire) never come this close.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The provider and what it last gave.
#[derive(Debug)]
pub struct CachedCredentials {
    provider: SharedCredentialsProvider,
    current: RwLock<Option<Credentials>>,
    refreshing: tokio::sync::Mutex<()>,
}

/// Whether `credentials` can still sign a request made at `now`.
fn fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > now + REFRESH_MARGIN)
}

impl CachedCredentials {
    pub fn new(provider: SharedCredentialsProvider) -> CachedCredentials {
        CachedCredentials {
            provider,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, now: SystemTime) -> Option<Credentials> {
        // A poisoned lock only means a panic elsewhere while holding it; the value is a
        // plain Option and stays usable.
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|c| fresh(c, now)).cloned()
    }

    /// Credentials fresh at `now`, fetched from the provider when the cached ones are not.
    pub async fn get(&self, now: SystemTime) -> Result<Credentials, StorageError> {
        if let Some(credentials) = self.cached(now) {
            return Ok(credentials);
        }
        let _turn = self.refreshing.lock().await;
        // Whoever held the turn before us may have refreshed already.
        if let Some(credentials) = self.cached(now) {
            return Ok(credentials);
        }
        let credentials = self.provider.provide_credentials().await.map_err(|error| {
            StorageError::Backend(format!(
                "no AWS credentials: {}",
                DisplayErrorContext(error)
            ))
        })?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(credentials.clone());
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_credential_types::provider::future;

    use super::*;

    /// Hands out keys that expire `lifetime` after `issued`, counting the calls.
    #[derive(Debug)]
    struct Issuer {
        calls: Arc<AtomicUsize>,
        expiry: Option<SystemTime>,
    }

    impl ProvideCredentials for Issuer {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let mut credentials =
                Credentials::new(format!("key{call}"), "secret", None, None, "test");
            *credentials.expiry_mut() = self.expiry;
            future::ProvideCredentials::ready(Ok(credentials))
        }
    }

    fn cache(expiry: Option<SystemTime>) -> (CachedCredentials, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let issuer = Issuer {
            calls: calls.clone(),
            expiry,
        };
        (
            CachedCredentials::new(SharedCredentialsProvider::new(issuer)),
            calls,
        )
    }

    #[tokio::test]
    async fn keys_without_expiry_are_fetched_once() {
        let (cache, calls) = cache(None);
        let now = SystemTime::now();
        for _ in 0..3 {
            assert_eq!(cache.get(now).await.unwrap().access_key_id(), "key0");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn keys_are_refreshed_within_the_margin_of_their_expiry() {
        let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (cache, calls) = cache(Some(issued + Duration::from_secs(3600)));
        assert_eq!(cache.get(issued).await.unwrap().access_key_id(), "key0");
        let still_fresh =
            issued + Duration::from_secs(3600) - REFRESH_MARGIN - Duration::from_secs(1);
        assert_eq!(
            cache.get(still_fresh).await.unwrap().access_key_id(),
            "key0"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let too_close = issued + Duration::from_secs(3600) - REFRESH_MARGIN;
        assert_eq!(cache.get(too_close).await.unwrap().access_key_id(), "key1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
