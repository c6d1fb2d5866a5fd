"""What every workload Slipway ships must have, checked on a rendered overlay: the restricted
security context, probes on /healthz and /readyz, resources, Slipway's labels; and an RBAC
that grants no wildcard, no exec and nothing on nodes or RBAC itself.

Usage: python manifest_policy.py RENDERED.yaml; prints one JSON object:
{"kinds": {kind: count}, "violations": [...], "deployments": {name: {...}}}
"""

import json
import sys

import yaml


def check_pod(name, spec, violations):
    pod = spec.get("securityContext", {})
    if pod.get("runAsNonRoot") is not True:
        violations.append(f"{name}: runAsNonRoot is not true")
    if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        violations.append(f"{name}: seccompProfile is not RuntimeDefault")
    for container in spec.get("containers", []):
        where = f"{name}/{container.get('name')}"
        security = container.get("securityContext", {})
        if security.get("allowPrivilegeEscalation") is not False:
            violations.append(f"{where}: allowPrivilegeEscalation is not false")
        if security.get("readOnlyRootFilesystem") is not True:
            violations.append(f"{where}: the root filesystem is writable")
        if "ALL" not in security.get("capabilities", {}).get("drop", []):
            violations.append(f"{where}: capabilities are not all dropped")
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            for what in ("cpu", "memory"):
                if what not in resources.get(part, {}):
                    violations.append(f"{where}: no {what} {part[:-1]}")
        probes = {
            "livenessProbe": "/healthz",
            "startupProbe": "/healthz",
            "readinessProbe": "/readyz",
        }
        for probe, path in probes.items():
            if container.get(probe, {}).get("httpGet", {}).get("path") != path:
                violations.append(f"{where}: {probe} does not ask {path}")


def check_rbac(document, violations):
    name = document["metadata"]["name"]
    for rule in document.get("rules", []):
        for field in ("apiGroups", "resources", "verbs"):
            if "*" in rule.get(field, []):
                violations.append(f"{name}: a wildcard in {field}")
        resources = rule.get("resources", [])
        for forbidden in ("pods/exec", "pods/attach", "nodes", "clusterroles", "roles", "rolebindings", "clusterrolebindings"):
            if forbidden in resources:
                violations.append(f"{name}: grants {forbidden}")
        if "escalate" in rule.get("verbs", []) or "bind" in rule.get("verbs", []):
            violations.append(f"{name}: may escalate or bind")


def main():
    documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    kinds, violations, deployments = {}, [], {}
    for document in documents:
        kind = document["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
        name = f"{kind}/{document['metadata']['name']}"
        labels = document["metadata"].get("labels", {})
        if labels.get("app.kubernetes.io/name") != "slipway":
            violations.append(f"{name}: no app.kubernetes.io/name=slipway label")
        if kind == "Deployment":
            spec = document["spec"]
            check_pod(name, spec["template"]["spec"], violations)
            deployments[document["metadata"]["name"]] = {
                "replicas": spec.get("replicas"),
                "strategy": spec.get("strategy", {}).get("type"),
                "max_unavailable": spec.get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable"),
                "spread": bool(spec["template"]["spec"].get("topologySpreadConstraints")),
            }
        if kind in ("ClusterRole", "Role"):
            check_rbac(document, violations)
    print(json.dumps({"kinds": kinds, "violations": violations, "deployments": deployments}))


if __name__ == "__main__":
    main()
