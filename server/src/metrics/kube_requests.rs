//! Counts every request kube-rs sends, by verb, resource and status code: a tower layer on the
//! client's HTTP stack, so nothing that talks to a cluster can forget to count.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{Method, Request, Response, Uri};

use super::families::families;

/// The layer to put on a kube-rs client (`ClientBuilder::with_layer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountRequests;

impl<S> tower::Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted { inner }
    }
}

/// A service that counts each request it passes on.
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for Counted<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let apply = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"application/apply-patch"));
        let (verb, resource) = classify(request.method(), request.uri(), apply);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let result = answer.await;
            let code = match &result {
                Ok(response) => response.status().as_str().to_owned(),
                Err(_) => "error".to_owned(),
            };
            families()
                .kube_requests
                .with_label_values(&[verb, resource.as_str(), code.as_str()])
                .inc();
            result
        })
    }
}

/// The Kubernetes verb and resource (`pods`, `pods/log`, `deployments`) of a request, as RBAC
/// names them; `discovery` for the API's own documents.
pub fn classify(method: &Method, uri: &Uri, apply: bool) -> (&'static str, String) {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        ["version"] => return ("get", "version".to_owned()),
        _ => return (verb(method, false, false, apply), "discovery".to_owned()),
    };
    let (resource, name, sub) = match rest {
        [] => return (verb(method, false, false, apply), "discovery".to_owned()),
        ["namespaces", name, sub @ ("status" | "finalize")] => {
            ("namespaces", Some(*name), Some(*sub))
        }
        ["namespaces", _namespace, resource, tail @ ..] => {
            (*resource, tail.first().copied(), tail.get(1).copied())
        }
        [resource, tail @ ..] => (*resource, tail.first().copied(), tail.get(1).copied()),
    };
    let watch = uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    });
    let resource = match sub {
        Some(sub) => format!("{}/{}", bounded(resource), bounded(sub)),
        None => bounded(resource).to_owned(),
    };
    (verb(method, name.is_some(), watch, apply), resource)
}

fn verb(method: &Method, named: bool, watch: bool, apply: bool) -> &'static str {
    match *method {
        Method::GET if watch => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH if apply => "apply",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "other",
    }
}

/// A resource name as a label: the API's names are short lowercase words; anything else is
/// `other`, so a strange path cannot make a new series per request.
fn bounded(name: &str) -> &str {
    let plain = name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if plain { name } else { "other" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: Method, path: &str) -> (&'static str, String) {
        classify(&method, &path.parse().expect("uri"), false)
    }

    #[test]
    fn requests_are_named_as_rbac_names_them() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/pr-1/pods/web-0/log?follow=true",
                ("get", "pods/log"),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/pr-1/pods?watch=true&labelSelector=a",
                ("watch", "pods"),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/pr-1/pods",
                ("list", "pods"),
            ),
            (Method::POST, "/api/v1/namespaces", ("create", "namespaces")),
            (
                Method::GET,
                "/api/v1/namespaces/pr-1",
                ("get", "namespaces"),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/pr-1",
                ("delete", "namespaces"),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/pr-1/finalize",
                ("update", "namespaces/finalize"),
            ),
            (
                Method::GET,
                "/apis/apps/v1/namespaces/pr-1/deployments/web",
                ("get", "deployments"),
            ),
            (
                Method::GET,
                "/apis/metrics.k8s.io/v1beta1/namespaces/pr-1/pods",
                ("list", "pods"),
            ),
            (
                Method::DELETE,
                "/apis/batch/v1/namespaces/ci/jobs",
                ("deletecollection", "jobs"),
            ),
            (Method::GET, "/apis/apps/v1", ("list", "discovery")),
            (Method::GET, "/version", ("get", "version")),
            (
                Method::GET,
                "/api/v1/namespaces/pr-1/Weird%20Thing",
                ("list", "other"),
            ),
        ];
        for (method, path, (verb, resource)) in cases {
            assert_eq!(of(method, path), (verb, resource.to_owned()), "{path}");
        }
        let applied = classify(
            &Method::PATCH,
            &"/apis/apps/v1/namespaces/pr-1/deployments/web?fieldManager=slipway"
                .parse()
                .expect("uri"),
            true,
        );
        assert_eq!(applied, ("apply", "deployments".to_owned()));
    }
}
