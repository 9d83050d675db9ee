//! S3 storage, the production backend, in Antenna's key layout:
//!
//! ```text
//! v1/dump_names/<crash id>              sorted JSON list of dump names
//! v1/<dump name>/<crash id>             each dump; the main dump field is stored as `dump`
//! v1/raw_crash/<YYYYMMDD>/<crash id>    the raw crash, written last
//! ```
//!
//! The dump-name list and the dumps go up concurrently (joined in the saving task: no task
//! per object); the raw crash only after all of them succeeded, so a processor that sees a
//! raw crash can fetch everything else. Dump bytes are handed to the SDK as the `Bytes`
//! they already are (slices of the request body): no copy.
//!
//! One pass over the bytes, not three: payloads are not signed (`UNSIGNED-PAYLOAD`: SigV4
//! would otherwise hash every dump), no CRC is computed, and each dump carries the SHA-256
//! computed when the crash was accepted (`metadata.dump_checksums`) as its
//! `x-amz-checksum-sha256`, so S3 verifies the stored bytes end to end for free.
//!
//! Objects below the multipart threshold — every object of almost every crash — go up
//! through [`client::SignedClient`], our own signed PutObject, which also checks the
//! bucket; multipart uploads through the SDK's client. Large objects go up as a multipart upload with
//! every part in flight at once; a failed multipart upload is aborted so no orphan parts
//! are billed.
//!
//! Both paths share the credentials ([`credentials`]), the region, the endpoint and the
//! timeouts (`crate::aws`, shared with SQS).

mod client;
mod credentials;

use std::sync::Arc;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures_util::future::try_join_all;
use rand::RngCore;

use self::client::SignedClient;
use self::credentials::CachedCredentials;
use super::{CrashStorage, StorageError, StorageFuture};
use crate::config::S3Config;
use crate::crash::CrashReport;

/// Stores crashes in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Storage {
    /// Multipart uploads.
    client: Client,
    /// Every other object, and the bucket check.
    objects: SignedClient,
    bucket: String,
    /// Field stored under the `dump` key (`BREAKPAD_DUMP_FIELD`).
    main_dump_field: String,
    multipart_threshold: usize,
    /// `bucket … region … endpoint …`, for error messages.
    location: String,
}

/// The server answered 2xx, whatever the SDK made of the answer.
fn answered_ok<E>(error: &SdkError<E, HttpResponse>) -> bool {
    error
        .raw_response()
        .is_some_and(|response| response.status().is_success())
}

fn backend_error(error: impl std::error::Error) -> StorageError {
    StorageError::Backend(DisplayErrorContext(error).to_string())
}

impl S3Storage {
    /// Builds the clients. Must run on the runtime that will use them (the movers'). Fails
    /// only on settings no request could succeed with (an endpoint that does not resolve,
    /// no credential provider); nothing is sent.
    pub async fn connect(
        config: &S3Config,
        main_dump_field: &str,
    ) -> Result<S3Storage, StorageError> {
        let shared = crate::aws::sdk_config(&config.connection).await;
        let provider = shared.credentials_provider().ok_or_else(|| {
            StorageError::Backend("no AWS credential provider is configured".into())
        })?;
        let objects = SignedClient::new(config, Arc::new(CachedCredentials::new(provider))).await?;
        let s3_config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            // TLS already protects the bytes in transit; per-object CRCs would cost a pass
            // over every dump for nothing.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Ok(S3Storage {
            client: Client::from_conf(s3_config),
            objects,
            bucket: config.bucket.clone(),
            main_dump_field: main_dump_field.to_owned(),
            multipart_threshold: config.multipart_threshold,
            location: format!("bucket {} {}", config.bucket, config.connection.describe()),
        })
    }

    /// The key of dump `name` of `crash_id`.
    pub fn dump_key(&self, name: &str, crash_id: &str) -> String {
        let stored = if name == self.main_dump_field || name.is_empty() {
            "dump"
        } else {
            name
        };
        format!("v1/{stored}/{crash_id}")
    }

    /// Stores `body` under `key`; `sha256`, when known, is sent for S3 to check.
    async fn put(
        &self,
        key: String,
        body: Bytes,
        sha256: Option<[u8; 32]>,
    ) -> Result<(), StorageError> {
        if body.len() >= self.multipart_threshold {
            return self.put_multipart(key, body).await;
        }
        self.objects.put_object(&key, body, sha256).await
    }

    async fn put_multipart(&self, key: String, body: Bytes) -> Result<(), StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(backend_error)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| StorageError::Backend("CreateMultipartUpload gave no upload id".into()))?
            .to_owned();
        let body_len = body.len();
        match self.upload_parts(&key, &upload_id, body).await {
            Ok(parts) => {
                let completed = self
                    .client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await;
                match completed {
                    Ok(_) => Ok(()),
                    // A 200 the SDK could not read (moto 5 answers with a
                    // `CompleteMultipartUploadResponse` root): the upload may well be
                    // complete. Aborting it now would lose the object, so ask S3.
                    Err(error) if answered_ok(&error) && self.confirm(&key, body_len).await => {
                        tracing::debug!(
                            "{key}: CompleteMultipartUpload answer unreadable; HeadObject confirms the object"
                        );
                        Ok(())
                    }
                    Err(error) => {
                        self.abort(&key, &upload_id).await;
                        Err(backend_error(error))
                    }
                }
            }
            Err(error) => {
                self.abort(&key, &upload_id).await;
                Err(error)
            }
        }
    }

    /// Uploads every part at once; parts are zero-copy slices of `body`.
    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        body: Bytes,
    ) -> Result<Vec<CompletedPart>, StorageError> {
        let part_size = self.multipart_threshold;
        let uploads = (0..body.len())
            .step_by(part_size)
            .enumerate()
            .map(|(index, start)| {
                let part = body.slice(start..(start + part_size).min(body.len()));
                let number = index as i32 + 1;
                let request = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(part.len() as i64)
                    .body(ByteStream::from(part))
                    .customize()
                    .disable_payload_signing();
                async move {
                    let sent = request.send().await.map_err(backend_error)?;
                    Ok::<_, StorageError>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(sent.e_tag().map(str::to_owned))
                            .build(),
                    )
                }
            });
        // In part order: try_join_all keeps it.
        try_join_all(uploads).await
    }

    /// True when `key` exists with `len` bytes. (Its checksum cannot be compared: multipart
    /// objects carry no full-object SHA-256, and computing part digests would be the second
    /// pass over the bytes this backend avoids.)
    async fn confirm(&self, key: &str, len: usize) -> bool {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        head.is_ok_and(|head| head.content_length() == Some(len as i64))
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(error) = aborted {
            tracing::warn!(
                "could not abort multipart upload {upload_id} of {key}: {}",
                DisplayErrorContext(error)
            );
        }
    }

    async fn save_crash(&self, crash: Arc<CrashReport>) -> Result<(), StorageError> {
        let id = crash.crash_id.as_str();
        let names = (
            format!("v1/dump_names/{id}"),
            Bytes::from(crash.dump_names_json()),
            None,
        );
        let dumps = crash.dumps.iter().map(|(name, bytes)| {
            (
                self.dump_key(name, id),
                bytes.clone(),
                crash.dump_sha256(name),
            )
        });
        let uploads = std::iter::once(names)
            .chain(dumps)
            .map(|(key, body, sha256)| self.put(key, body, sha256));
        try_join_all(uploads).await?;
        let raw_key = format!("v1/raw_crash/{}/{id}", crash.crash_id.date_key());
        self.put(raw_key, Bytes::from(crash.raw_crash_json()), None)
            .await
    }

    async fn verify(&self) -> Result<(), StorageError> {
        let key = {
            let mut rng = rand::rng();
            format!(
                "test/testfile-{:016x}{:016x}.txt",
                rng.next_u64(),
                rng.next_u64()
            )
        };
        // HeadBucket first: "no such bucket" is clearer than a failed write (and some
        // S3-compatible servers create buckets on write).
        let checked = async {
            self.objects.head_bucket().await?;
            self.put(key, Bytes::from_static(b"test"), None).await
        };
        checked
            .await
            .map_err(|error| StorageError::Backend(format!("{}: {error}", self.location)))
    }
}

impl CrashStorage for S3Storage {
    fn name(&self) -> &'static str {
        "S3CrashStorage"
    }

    fn save(&self, crash: Arc<CrashReport>) -> StorageFuture<'_> {
        Box::pin(self.save_crash(crash))
    }

    fn check_health(&self) -> StorageFuture<'_> {
        Box::pin(self.objects.head_bucket())
    }

    fn verify_at_startup(&self) -> StorageFuture<'_> {
        Box::pin(self.verify())
    }
}
