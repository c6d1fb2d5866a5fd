//! What a transform Job's sidecar hands over: `PUT /api/transform-uploads/{execution}/{job}/{file}`
//! through a link signed for that one attempt (scope `transform-upload/{execution}/{job}`,
//! valid as long as the attempt may run), accepted only while that execution is running and
//! only for the files the sidecar uploads. Kept at `preview/{run}/{repo_slug}/upload/{job}/`
//! until the worker collects them; a link made for one execution (or one attempt) does not
//! open another.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use domain::transform::ExecutionStatus;
use domain::transform::run::artifact_key;
use domain::{ObjectKey, Objects, Store};

use super::job::UPLOADED;
use crate::signing::{SignatureError, UrlSigner};

/// A patch larger than this is refused.
pub const MAX_TRANSFORM_UPLOAD: usize = 256 * 1024 * 1024;

fn scope(execution: i64, job: &str) -> String {
    format!("transform-upload/{execution}/{job}")
}

/// The link's start (append the file's name) and its query, valid for `ttl`.
pub fn upload_link(
    signer: &UrlSigner,
    public_url: &str,
    execution: i64,
    job: &str,
    ttl: Duration,
) -> (String, String) {
    let (expires, signature) = signer.sign(&scope(execution, job), ttl);
    (
        format!(
            "{}/api/transform-uploads/{execution}/{job}/",
            public_url.trim_end_matches('/')
        ),
        format!("expires={expires}&signature={signature}"),
    )
}

/// Where an attempt's uploaded `file` waits for the worker.
pub fn staged_key(
    run: domain::transform::TransformRunId,
    repository: &str,
    job: &str,
    file: &str,
) -> Result<ObjectKey, domain::objects::ObjectsError> {
    ObjectKey::new(&artifact_key(
        run,
        repository,
        &format!("upload/{job}/{file}"),
    ))
}

/// One uploaded file.
#[derive(Debug)]
pub struct TransformUpload {
    pub execution: i64,
    pub job: String,
    pub file: String,
    pub expires: Option<u64>,
    pub signature: Option<String>,
    pub content: Bytes,
}

/// Why an upload was not kept.
#[derive(Debug, thiserror::Error)]
pub enum UploadRefused {
    #[error("an upload needs `expires` and `signature`")]
    Unsigned,
    #[error("upload refused: {0}")]
    Signature(SignatureError),
    #[error("a transform uploads only {}", UPLOADED.join(" and "))]
    UnknownFile,
    #[error("execution {0} is not running")]
    NotRunning(i64),
    #[error(transparent)]
    Store(#[from] domain::StoreError),
    #[error("cannot keep the upload: {0}")]
    Storing(String),
}

impl UploadRefused {
    /// The kind of refusal, for the answer's status.
    pub fn kind(&self) -> domain::ErrorKind {
        use domain::ErrorKind;
        match self {
            Self::Unsigned | Self::Signature(_) => ErrorKind::Forbidden,
            Self::UnknownFile => ErrorKind::NotFound,
            Self::NotRunning(_) => ErrorKind::Conflict,
            Self::Store(_) => ErrorKind::Unavailable,
            Self::Storing(_) => ErrorKind::Unavailable,
        }
    }
}

/// Keeps an upload once its link is verified for this execution's attempt.
pub async fn accept_transform_upload(
    store: Arc<dyn Store>,
    objects: Arc<dyn Objects>,
    signer: &UrlSigner,
    upload: TransformUpload,
) -> Result<(), UploadRefused> {
    let (Some(expires), Some(signature)) = (upload.expires, upload.signature.as_deref()) else {
        return Err(UploadRefused::Unsigned);
    };
    signer
        .verify(&scope(upload.execution, &upload.job), expires, signature)
        .map_err(UploadRefused::Signature)?;
    if !UPLOADED.contains(&upload.file.as_str()) {
        return Err(UploadRefused::UnknownFile);
    }
    let execution = store.get_execution(upload.execution).await?;
    if execution.status != ExecutionStatus::Running {
        return Err(UploadRefused::NotRunning(execution.id));
    }
    let key = staged_key(
        execution.run_id,
        &execution.repository,
        &upload.job,
        &upload.file,
    )
    .map_err(|e| UploadRefused::Storing(e.to_string()))?;
    objects
        .put(&key, upload.content)
        .await
        .map_err(|e| UploadRefused::Storing(domain::error_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn a_link_opens_only_its_own_attempt() {
        let signer = UrlSigner::new(&SecretString::from("k".repeat(32))).expect("signer");
        let (url, query) = upload_link(
            &signer,
            "http://s:3000/",
            7,
            "tf-7-aaa",
            Duration::from_secs(60),
        );
        assert_eq!(url, "http://s:3000/api/transform-uploads/7/tf-7-aaa/");
        let (expires, signature) = query
            .split_once('&')
            .map(|(e, s)| {
                (
                    e.trim_start_matches("expires=")
                        .parse::<u64>()
                        .expect("expires"),
                    s.trim_start_matches("signature=").to_owned(),
                )
            })
            .expect("query");
        assert_eq!(
            signer.verify(&scope(7, "tf-7-aaa"), expires, &signature),
            Ok(())
        );
        assert_eq!(
            signer.verify(&scope(8, "tf-7-aaa"), expires, &signature),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(&scope(7, "tf-7-bbb"), expires, &signature),
            Err(SignatureError::Invalid)
        );
    }
}
