"""The monitoring overlay as the Prometheus Operator reads it: the ServiceMonitor selects the
Service Slipway is behind, by a port it has, in its namespace, with the bearer token from the
Secret Slipway reads SLIPWAY_METRICS_TOKEN_FILE from; the PrometheusRule holds the groups of
deploy/prometheus/slipway.rules.yaml; the Deployment's pods still pass the manifest policy.

Usage: python monitoring_objects.py RENDERED.yaml RULES.yaml; prints one JSON object:
{"problems": [...], "same_rules": bool, "scraped_path": str, "token_file": str}
"""

import json
import sys

import yaml

from manifest_policy import check_pod


def main():
    documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    rules = yaml.safe_load(open(sys.argv[2]))
    by_kind = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)
    problems = []
    service = by_kind["Service"][0]
    monitor = by_kind["ServiceMonitor"][0]
    rule = by_kind["PrometheusRule"][0]
    deployment = by_kind["Deployment"][0]
    for document in (monitor, rule):
        if document["metadata"].get("namespace") != service["metadata"].get("namespace"):
            problems.append(f"{document['kind']} is not in Slipway's namespace")
    labels = service["metadata"].get("labels", {})
    for key, value in monitor["spec"]["selector"]["matchLabels"].items():
        if labels.get(key) != value:
            problems.append(f"the ServiceMonitor selects {key}={value}, the Service has {labels.get(key)}")
    ports = {p.get("name") for p in service["spec"]["ports"]}
    endpoint = monitor["spec"]["endpoints"][0]
    if endpoint.get("port") not in ports:
        problems.append(f"the ServiceMonitor scrapes port {endpoint.get('port')}, the Service has {ports}")
    credentials = endpoint.get("authorization", {}).get("credentials", {})
    pod = deployment["spec"]["template"]["spec"]
    secret_volumes = {v["name"]: v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    token_file = env.get("SLIPWAY_METRICS_TOKEN_FILE", "")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    mounted_from = None
    for path, volume in mounts.items():
        if token_file.startswith(path.rstrip("/") + "/"):
            mounted_from = (secret_volumes.get(volume), token_file[len(path.rstrip("/")) + 1:])
    if mounted_from != (credentials.get("name"), credentials.get("key")):
        problems.append(f"Slipway reads its token from {mounted_from}, Prometheus sends {credentials}")
    check_pod("Deployment/slipway", pod, problems)
    print(json.dumps({
        "problems": problems,
        "same_rules": rule["spec"]["groups"] == rules["groups"],
        "scraped_path": endpoint.get("path"),
        "token_file": token_file,
    }))


if __name__ == "__main__":
    main()
