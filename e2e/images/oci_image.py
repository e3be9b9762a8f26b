#!/usr/bin/env python3
"""Pack a root filesystem directory into an OCI image-layout tarball (no Docker).

The result holds one uncompressed layer, the image config, the manifest,
index.json and oci-layout; `ctr -n k8s.io images import TAR` loads it under NAME
(index.json's io.containerd.image.name annotation). The layer is reproducible: sorted entries, mtime 0, owner root.

usage: oci_image.py ROOTFS OUT.tar --name REF [--entrypoint JSON] [--cmd JSON] [--env K=V ...]
Prints the manifest digest on stdout.
"""
import argparse
import hashlib
import io
import json
import os
import tarfile


def normalize(ti: tarfile.TarInfo) -> tarfile.TarInfo:
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def build_layer(rootfs: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(rootfs)):  # tar.add recurses in sorted order
            tar.add(os.path.join(rootfs, entry), arcname=entry, filter=normalize)
    return buf.getvalue()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("rootfs")
    p.add_argument("out")
    p.add_argument("--name", required=True)
    p.add_argument("--entrypoint", default="null")
    p.add_argument("--cmd", default="null")
    p.add_argument("--env", action="append", default=[])
    a = p.parse_args()

    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    layer = build_layer(a.rootfs)
    layer_desc = blob(layer)
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + a.env
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": env,
            "Entrypoint": json.loads(a.entrypoint),
            "Cmd": json.loads(a.cmd),
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "e2e/images/build"}],
    }
    config_desc = blob(json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_desc}],
    }
    manifest_desc = blob(json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            **manifest_desc,
            # Full name for containerd (also `kind load image-archive`), tag for OCI tools.
            "annotations": {
                "io.containerd.image.name": a.name,
                "org.opencontainers.image.ref.name": a.name.rsplit(":", 1)[-1] if ":" in a.name.rsplit("/", 1)[-1] else "latest",
            },
        }],
    }

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            ti = normalize(tarfile.TarInfo(name))
            ti.size = len(data)
            ti.mode = 0o644
            tar.addfile(ti, io.BytesIO(data))

        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index, sort_keys=True).encode())
        for digest, data in sorted(blobs.items()):
            add("blobs/sha256/" + digest.split(":", 1)[1], data)
    os.replace(tmp, a.out)
    print(manifest_desc["digest"])


if __name__ == "__main__":
    main()
