//! A run's artifact files with short-lived download links (presigned on S3, Slipway's own
//! signed link on the filesystem), and the link of one file.

use std::time::Duration;

use domain::ObjectKey;
use domain::pipeline::artifact::{ArtifactFile, ArtifactLink};

use crate::caller::{Action, Caller};
use crate::pipelines::PipelineRef;
use crate::{Error, Result, Services};

/// Download links work this long.
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);

impl Services {
    /// The run's artifact files, each with a download link.
    pub async fn list_artifacts(
        &self,
        caller: &Caller,
        run: PipelineRef,
    ) -> Result<Vec<ArtifactLink>> {
        let run = self.pipeline(caller, Action::PipelineRead, run).await?;
        let files = self.store.list_artifact_files(run.id).await?;
        let mut links = Vec::with_capacity(files.len());
        for file in files {
            let download_url = self.download_url(&file).await;
            links.push(ArtifactLink { file, download_url });
        }
        Ok(links)
    }

    /// The download link of the run's artifact file `artifact_id`.
    pub async fn artifact_download(
        &self,
        caller: &Caller,
        run: PipelineRef,
        artifact_id: i64,
    ) -> Result<String> {
        let run = self.pipeline(caller, Action::PipelineRead, run).await?;
        let files = self.store.list_artifact_files(run.id).await?;
        let Some(file) = files.into_iter().find(|f| f.id == artifact_id) else {
            return Err(Error::NotFound(format!(
                "pipeline {} has no artifact file {artifact_id}",
                run.id
            )));
        };
        let key = ObjectKey::new(&file.object_key).map_err(|e| Error::Internal(Box::new(e)))?;
        self.objects
            .download_url(&key, DOWNLOAD_TTL)
            .await
            .map_err(|e| Error::Unavailable {
                dependency: "object storage",
                source: Box::new(e),
            })
    }

    async fn download_url(&self, file: &ArtifactFile) -> Option<String> {
        let key = ObjectKey::new(&file.object_key).ok()?;
        self.objects.download_url(&key, DOWNLOAD_TTL).await.ok()
    }
}
