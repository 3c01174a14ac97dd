"""Kubernetes side: containerd / CRI-O configurations, manifests, YAML bounds."""
