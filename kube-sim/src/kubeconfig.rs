//! The kubeconfig that points standard clients (kube-rs, kubectl) at a running kube-sim.

/// A kubeconfig (YAML) for the server at `url`, with context and cluster named `kube-sim`,
/// as its administrator.
pub fn kubeconfig(url: &str) -> String {
    kubeconfig_with_token(url, crate::authorization::ADMIN_TOKEN)
}

/// The same, authenticating with `token`.
pub fn kubeconfig_with_token(url: &str, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-sim
  cluster:
    server: {url}
contexts:
- name: kube-sim
  context:
    cluster: kube-sim
    user: kube-sim
    namespace: default
current-context: kube-sim
users:
- name: kube-sim
  user:
    token: {token}
preferences: {{}}
"
    )
}
