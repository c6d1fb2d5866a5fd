"""The official Kubernetes Python client against kube-sim, as an operator's script uses it:
typed models for namespaces, pods and deployments (which refuse objects missing a field the
API requires), a pod run to completion followed with a watch, and its log.

Usage: python kubernetes_client.py KUBECONFIG NAMESPACE; prints one JSON object.
"""

import json
import sys

from kubernetes import client, config, watch


def main() -> None:
    kubeconfig, namespace = sys.argv[1], sys.argv[2]
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="hello", labels={"app": "hello"}),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[
                client.V1Container(
                    name="main", image="alpine:3", command=["sh", "-c", "echo hello from the pod"]
                )
            ],
        ),
    )
    core.create_namespaced_pod(namespace, pod)
    phases = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_pod, namespace, field_selector="metadata.name=hello", timeout_seconds=30
    ):
        phases.append(event["object"].status.phase)
        if event["object"].status.phase in ("Succeeded", "Failed"):
            stream.stop()
    pods = core.list_namespaced_pod(namespace, label_selector="app=hello")
    status = pods.items[0].status
    container = status.container_statuses[0]
    log = core.read_namespaced_pod_log("hello", namespace)
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1")]),
            ),
        ),
    )
    apps.create_namespaced_deployment(namespace, deployment)
    deployments = apps.list_namespaced_deployment(namespace)
    namespaces = core.list_namespace()
    print(
        json.dumps(
            {
                "phases": phases,
                "pods": [p.metadata.name for p in pods.items],
                "image_id": container.image_id,
                "container_id": container.container_id,
                "exit_code": container.state.terminated.exit_code,
                "conditions": sorted(c.type for c in status.conditions),
                "log": log,
                "deployments": [d.metadata.name for d in deployments.items],
                "namespaces": sorted(n.metadata.name for n in namespaces.items),
            }
        )
    )


if __name__ == "__main__":
    main()
