//! S3 requests without the SDK's orchestrator: PutObject, which the crash path sends three
//! times per crash (dump names, each dump, raw crash), and HeadBucket, the health check.
//!
//! Through the SDK every PUT rebuilt its runtime components and config bag, ran the
//! interceptor chain, resolved the endpoint and serialised the operation — per-request
//! work that cost more than the bytes of the small objects it sent. Here everything that
//! does not depend on the object is decided once, at start-up: the endpoint (the SDK's own
//! S3 endpoint rules, path-style), the region, the HTTP connection pool. Per object there
//! is a SigV4 signature (the SDK's own `aws-sigv4`, with `UNSIGNED-PAYLOAD`: the body is
//! not hashed again) and one request on a pooled connection.
//!
//! Error answers are read (bounded) for S3's `<Code>` and `<Message>`, so the log says
//! `403 SignatureDoesNotMatch: …` rather than a status alone.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::credentials::CachedCredentials;
use crate::aws::{ATTEMPT_TIMEOUT, CONNECT_TIMEOUT};
use crate::config::S3Config;
use crate::storage::StorageError;

/// How long an unused connection stays in the pool: under S3's own idle timeout (~20 s),
/// so a pooled connection is rarely one the server is closing as we write to it.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// The most of an error answer that is read for its code and message.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

const CHECKSUM_SHA256: &str = "x-amz-checksum-sha256";

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends signed requests to one bucket.
#[derive(Debug, Clone)]
pub struct SignedClient {
    http: HttpClient,
    /// `scheme://authority/bucket`, as the SDK's endpoint rules give it.
    bucket_url: String,
    /// The `Host` header: signed, so it must be the one sent.
    host: HeaderValue,
    region: String,
    credentials: Arc<CachedCredentials>,
}

impl SignedClient {
    /// Resolves the bucket's endpoint and builds the connection pool. Nothing is sent.
    pub async fn new(
        config: &S3Config,
        credentials: Arc<CachedCredentials>,
    ) -> Result<SignedClient, StorageError> {
        let connection = &config.connection;
        let params = Params::builder()
            .bucket(&config.bucket)
            .region(&connection.region)
            .force_path_style(true)
            .set_endpoint(connection.endpoint_url.clone())
            .build()
            .map_err(|error| StorageError::Backend(format!("S3 endpoint: {error}")))?;
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map_err(|error| StorageError::Backend(format!("S3 endpoint: {error}")))?;
        let bucket_url = endpoint.url().trim_end_matches('/').to_owned();
        let uri: http::Uri = bucket_url
            .parse()
            .map_err(|error| StorageError::Backend(format!("S3 endpoint {bucket_url}: {error}")))?;
        let host = uri
            .authority()
            .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
            .ok_or_else(|| {
                StorageError::Backend(format!("S3 endpoint {bucket_url} has no host"))
            })?;
        Ok(SignedClient {
            http: http_client()?,
            bucket_url,
            host,
            region: connection.region.clone(),
            credentials,
        })
    }

    /// Stores `body` under `key`. `sha256`, when known, goes along as
    /// `x-amz-checksum-sha256` and S3 refuses the object if the bytes do not match it.
    pub async fn put_object(
        &self,
        key: &str,
        body: Bytes,
        sha256: Option<[u8; 32]>,
    ) -> Result<(), StorageError> {
        let uri = format!("{}/{}", self.bucket_url, encode_key(key));
        self.send(Method::PUT, uri, body, sha256)
            .await
            .map_err(|why| StorageError::Backend(format!("PutObject {key}: {why}")))
    }

    /// Whether the bucket exists and these credentials may use it.
    pub async fn head_bucket(&self) -> Result<(), StorageError> {
        self.send(Method::HEAD, self.bucket_url.clone(), Bytes::new(), None)
            .await
            .map_err(|why| StorageError::Backend(format!("HeadBucket: {why}")))
    }

    /// Signs and sends one request; a 2xx answer is success, anything else says why not.
    async fn send(
        &self,
        method: Method,
        uri: String,
        body: Bytes,
        sha256: Option<[u8; 32]>,
    ) -> Result<(), String> {
        let request = self
            .signed_request(method, uri, body, sha256, SystemTime::now())
            .await
            .map_err(|error| error.to_string())?;
        let answered = tokio::time::timeout(ATTEMPT_TIMEOUT, async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|error| with_causes(&error))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT)
                .collect()
                .await
                .map(|collected| collected.to_bytes())
                .unwrap_or_default();
            Err(describe_refusal(status, &body))
        });
        answered
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {ATTEMPT_TIMEOUT:?}")))
    }

    async fn signed_request(
        &self,
        method: Method,
        uri: String,
        body: Bytes,
        sha256: Option<[u8; 32]>,
        now: SystemTime,
    ) -> Result<Request<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
        let mut head = Request::builder()
            .method(&method)
            .uri(&uri)
            .header(HOST, self.host.clone())
            .header(USER_AGENT, concat!("antenna/", env!("CARGO_PKG_VERSION")));
        if method == Method::PUT {
            head = head.header(CONTENT_LENGTH, body.len());
        }
        let mut request = head.body(Full::new(body))?;
        if let Some(digest) = sha256 {
            let encoded = aws_smithy_types::base64::encode(digest);
            request
                .headers_mut()
                .insert(CHECKSUM_SHA256, HeaderValue::from_str(&encoded)?);
        }
        let identity: Identity = self.credentials.get(now).await?.into();
        let mut settings = SigningSettings::default();
        // S3's rules: the x-amz-content-sha256 header (here UNSIGNED-PAYLOAD), the path
        // taken as sent, not normalised.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()?
            .into();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let signable = SignableRequest::new(
            method.as_str(),
            &uri,
            headers,
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

fn http_client() -> Result<HttpClient, StorageError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|error| StorageError::Backend(format!("TLS root certificates: {error}")))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(https))
}

/// `key` as a URI path: RFC 3986's unreserved characters and `/` as they are, every
/// other byte percent-encoded — the form SigV4 signs for S3.
fn encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for &byte in key.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `error: cause: cause…`: hyper-util's errors say only "client error (Connect)", their
/// sources say why (`invalid peer certificate: UnknownIssuer`).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `403 AccessDenied: Access Denied` from S3's XML error body; the status alone when the
/// body has no code.
fn describe_refusal(status: StatusCode, body: &[u8]) -> String {
    let body = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))?;
        Some(body[start..start + end].to_owned())
    };
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{status} {code}: {message}"),
        (Some(code), None) => format!("{status} {code}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;

    use super::*;
    use crate::config::AwsConnection;

    async fn client(
        region: &str,
        endpoint_url: Option<&str>,
        credentials: Credentials,
    ) -> SignedClient {
        let config = S3Config {
            bucket: "crashes".into(),
            connection: AwsConnection {
                region: region.into(),
                endpoint_url: endpoint_url.map(str::to_owned),
                credentials: None,
            },
            multipart_threshold: 8 << 20,
        };
        let provider = SharedCredentialsProvider::new(credentials);
        SignedClient::new(&config, Arc::new(CachedCredentials::new(provider)))
            .await
            .unwrap()
    }

    fn keys() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "secret", None, None, "test")
    }

    #[tokio::test]
    async fn endpoints_follow_the_sdks_rules_path_style() {
        let aws = client("us-west-2", None, keys()).await;
        assert_eq!(aws.bucket_url, "https://s3.us-west-2.amazonaws.com/crashes");
        assert_eq!(aws.host, "s3.us-west-2.amazonaws.com");
        let china = client("cn-north-1", None, keys()).await;
        assert_eq!(
            china.bucket_url,
            "https://s3.cn-north-1.amazonaws.com.cn/crashes"
        );
        let local = client("us-east-1", Some("http://127.0.0.1:9000"), keys()).await;
        assert_eq!(local.bucket_url, "http://127.0.0.1:9000/crashes");
        assert_eq!(local.host, "127.0.0.1:9000");
    }

    #[tokio::test]
    async fn puts_sign_host_checksum_and_session_token_not_the_payload() {
        let role = Credentials::new(
            "ASIAEXAMPLE",
            "secret",
            Some("the-token".into()),
            None,
            "test",
        );
        let client = client("us-west-2", None, role).await;
        let uri = format!("{}/v1/dump/abc", client.bucket_url);
        let request = client
            .signed_request(
                Method::PUT,
                uri,
                Bytes::from_static(b"MDMP"),
                Some([7; 32]),
                SystemTime::now(),
            )
            .await
            .unwrap();
        let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("host"), "s3.us-west-2.amazonaws.com");
        assert_eq!(header("content-length"), "4");
        assert_eq!(header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
        assert_eq!(
            header(CHECKSUM_SHA256),
            aws_smithy_types::base64::encode([7; 32])
        );
        assert_eq!(header("x-amz-security-token"), "the-token");
        let authorization = header("authorization");
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/")
                && authorization.contains("/us-west-2/s3/aws4_request")
                && authorization.contains(
                    "SignedHeaders=content-length;host;x-amz-checksum-sha256;\
                     x-amz-content-sha256;x-amz-date;x-amz-security-token,"
                ),
            "{authorization}"
        );
    }

    #[test]
    fn keys_keep_unreserved_characters_and_slashes() {
        assert_eq!(
            encode_key("v1/raw_crash/20261202/de1bb258-cbbf-4589-a673-34f800160918"),
            "v1/raw_crash/20261202/de1bb258-cbbf-4589-a673-34f800160918"
        );
        assert_eq!(encode_key("test/a b+c~.txt"), "test/a%20b%2Bc~.txt");
        assert_eq!(encode_key("é"), "%C3%A9");
    }

    #[test]
    fn refusals_name_s3s_code_and_message() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>\
            <Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            describe_refusal(StatusCode::NOT_FOUND, body),
            "404 Not Found NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(
            describe_refusal(StatusCode::SERVICE_UNAVAILABLE, b""),
            "503 Service Unavailable"
        );
    }
}
