#!/usr/bin/env python3
"""Validate deploy/kubernetes/*.yaml and the Dockerfile; called by deploy/validate.sh.

1. Schema: every document is checked against the Kubernetes OpenAPI schemas
   that the kubernetes-validate package ships (offline), in strict mode (an
   unknown field is an error), for each version in --kubernetes-version.
   ServiceMonitor (a CRD, absent from the core schemas) is checked against
   deploy/schemas/servicemonitor-v1.json, a hand-written subset. Any other
   kind without a schema is an error, never a silent pass.
2. YAML: duplicate keys are errors (PyYAML keeps the last one silently; the
   API server would not see what the author meant).
3. The deployment contract of logscrub (issue #8): for every logscrub
   container, the securityContext, probes, metrics port, resources, known
   CLI flags only, and a termination grace period that covers preStop +
   --shutdown-timeout. With --logscrub BINARY, every flag the manifests pass
   must also be in that binary's --help (the build the image is made from).
4. Self-test: broken copies of the manifests must fail, so that a validator
   that passes everything cannot go unnoticed.
5. Dockerfile: the COPY sources exist and are not excluded by .dockerignore;
   exec-form ENTRYPOINT, numeric non-root USER, EXPOSE 9090.

Prints one line per check and exits 1 if any failed.
"""

import argparse
import copy
import fnmatch
import json
import pathlib
import re
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"
SCHEMAS = ROOT / "deploy" / "schemas"

# The logscrub CLI (issue #5). A flag in a manifest that is not here is a typo.
KNOWN_FLAGS = {
    "--input", "--follow", "--checkpoint", "--listen", "--output", "--format",
    "--metrics-addr", "--shutdown-timeout", "--threads", "--config",
    "--max-line-bytes", "--stats", "--findings", "--patterns", "--action",
    "--disable", "--hash-key-file", "--log-format", "--version",
    "--read-from", "--output-buffer", "--when-full",
    "--exclude", "--ignore-older", "--workload-series-ttl",
}
METRICS_PORT = 9090
UID = 65532

failures = []
# (where, flag) for every flag a logscrub container passes, for --logscrub.
manifest_flags = []


def fail(where, message):
    failures.append(f"{where}: {message}")
    print(f"FAIL {where}: {message}")


def ok(where, message):
    print(f"ok   {where}: {message}")


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=StrictLoader) if d is not None]


def name_of(doc):
    return f"{doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"


def schema_errors(doc, version, servicemonitor_schema):
    """The schema errors of one document (empty when valid)."""
    if doc.get("apiVersion") == "monitoring.coreos.com/v1" and doc.get("kind") == "ServiceMonitor":
        validator = jsonschema.Draft7Validator(servicemonitor_schema)
        return [f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}"
                for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {doc.get('apiVersion')} {doc.get('kind')}: "
                "add one under deploy/schemas/ or remove the document"]
    return []


def pod_spec(doc):
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec", {}), doc.get("metadata", {})
    if kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"):
        template = doc.get("spec", {}).get("template", {})
        return template.get("spec", {}), template.get("metadata", {})
    return None, None


def flag_value(args, flag):
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def check_contract(path, doc):
    """The logscrub deployment contract for one workload document."""
    spec, meta = pod_spec(doc)
    if spec is None:
        return
    where = f"{path.name} {name_of(doc)}"
    pod_sc = spec.get("securityContext", {})
    grace = spec.get("terminationGracePeriodSeconds", 30)
    all_containers = [("initContainers", c) for c in spec.get("initContainers", [])] + \
                     [("containers", c) for c in spec.get("containers", [])]
    found = False
    for section, c in all_containers:
        cwhere = f"{where} {section}/{c.get('name')}"
        sc = c.get("securityContext", {})
        # Every container, logscrub or not: no escalation, no capabilities
        # beyond what it lists, resources set.
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(cwhere, "securityContext.allowPrivilegeEscalation must be false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            fail(cwhere, "securityContext.capabilities.drop must contain ALL")
        if sc.get("readOnlyRootFilesystem") is not True:
            fail(cwhere, "securityContext.readOnlyRootFilesystem must be true")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp != "RuntimeDefault":
            fail(cwhere, f"seccompProfile must be RuntimeDefault, is {seccomp}")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for key in ("cpu", "memory"):
                if key not in res.get(part, {}):
                    fail(cwhere, f"resources.{part}.{key} is not set")
        if "logscrub" not in c.get("image", ""):
            continue
        found = True
        args = [str(a) for a in c.get("args", [])]
        if c.get("command"):
            fail(cwhere, "command must not be set: the image's ENTRYPOINT is the binary")
        for arg in args:
            if arg.startswith("--") and arg.split("=", 1)[0] not in KNOWN_FLAGS:
                fail(cwhere, f"unknown logscrub flag {arg}")
            if arg.startswith("--"):
                manifest_flags.append((cwhere, arg.split("=", 1)[0]))
        if sc.get("runAsNonRoot") is not True or sc.get("runAsUser") != UID:
            fail(cwhere, f"must run as non-root UID {UID} (runAsNonRoot, runAsUser)")
        if flag_value(args, "--metrics-addr") != f"0.0.0.0:{METRICS_PORT}":
            fail(cwhere, f"--metrics-addr 0.0.0.0:{METRICS_PORT} missing")
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        if ports.get("metrics") != METRICS_PORT:
            fail(cwhere, f"port 'metrics' must be containerPort {METRICS_PORT}")
        for probe, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            http = c.get(probe, {}).get("httpGet", {})
            if http.get("path") != want or http.get("port") not in ("metrics", METRICS_PORT):
                fail(cwhere, f"{probe} must be httpGet {want} on the metrics port")
        if "startupProbe" in c and section == "initContainers":
            fail(cwhere, "a native sidecar's startupProbe delays the application's start")
        if section == "initContainers" and c.get("restartPolicy") != "Always":
            fail(cwhere, "a logscrub init container must be a sidecar (restartPolicy: Always)")
        if "--follow" in args and flag_value(args, "--checkpoint") is None:
            fail(cwhere, "--follow without --checkpoint re-reads or skips lines after a restart")
        timeout = int(flag_value(args, "--shutdown-timeout") or 10)
        pre_stop = 0
        hook = c.get("lifecycle", {}).get("preStop", {})
        if "sleep" in hook:
            pre_stop = int(hook["sleep"]["seconds"])
        elif "exec" in hook:
            cmd = hook["exec"].get("command", [])
            if len(cmd) == 2 and cmd[0].endswith("/sleep"):
                pre_stop = int(cmd[1])
            else:
                fail(cwhere, f"unexpected preStop command {cmd}")
        if section == "containers" and len(spec.get("containers", [])) > 1 and pre_stop == 0:
            fail(cwhere, "a classic sidecar needs a preStop sleep so the application stops first")
        need = pre_stop + timeout + 5
        if grace < need:
            fail(cwhere, f"terminationGracePeriodSeconds {grace} < preStop {pre_stop} "
                         f"+ --shutdown-timeout {timeout} + 5 s margin")
        else:
            ok(cwhere, f"grace {grace} s covers preStop {pre_stop} s + drain {timeout} s")
        annotations = meta.get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true" or \
                annotations.get("prometheus.io/port") != str(METRICS_PORT):
            fail(cwhere, "pod template needs prometheus.io/scrape and prometheus.io/port annotations")
    if not found:
        fail(where, "no logscrub container")


def cross_errors(docs):
    """References between the documents of one file: a Service, a
    PodDisruptionBudget or a ServiceMonitor-less selector must select a pod
    template of the file, a Service's named targetPort must be a port of
    those pods, and an HPA must scale a workload of the file (with CPU
    requests, without which a CPU target never acts)."""
    errors = []
    workloads = [d for d in docs if pod_spec(d)[0] is not None]

    def selected(selector, namespace):
        return [w for w in workloads
                if w.get("metadata", {}).get("namespace") == namespace
                and selector and all(pod_spec(w)[1].get("labels", {}).get(k) == v
                                     for k, v in selector.items())]

    for d in docs:
        kind, ns = d.get("kind"), d.get("metadata", {}).get("namespace")
        if kind == "Service" and d.get("spec", {}).get("selector"):
            pods = selected(d["spec"]["selector"], ns)
            if not pods and d.get("spec", {}).get("clusterIP") != "None":
                errors.append(f"{name_of(d)}: selects no pod template in this file")
            for port in d["spec"].get("ports", []):
                target = port.get("targetPort")
                if isinstance(target, str) and pods and not any(
                        p.get("name") == target
                        for w in pods for c in pod_spec(w)[0].get("containers", [])
                        for p in c.get("ports", [])):
                    errors.append(f"{name_of(d)}: targetPort {target} is no container port")
        if kind == "PodDisruptionBudget":
            if not selected(d.get("spec", {}).get("selector", {}).get("matchLabels"), ns):
                errors.append(f"{name_of(d)}: selects no pod template in this file")
        if kind == "HorizontalPodAutoscaler":
            ref = d.get("spec", {}).get("scaleTargetRef", {})
            target = [w for w in workloads if w.get("kind") == ref.get("kind")
                      and w["metadata"].get("name") == ref.get("name")
                      and w["metadata"].get("namespace") == ns]
            if not target:
                errors.append(f"{name_of(d)}: scaleTargetRef {ref.get('kind')}/{ref.get('name')} "
                              "is not in this file")
            for w in target:
                for c in pod_spec(w)[0].get("containers", []):
                    if "cpu" not in c.get("resources", {}).get("requests", {}):
                        errors.append(f"{name_of(d)}: container {c.get('name')} has no CPU request")
    return errors


def mutations(docs):
    """Broken copies that a working validator must reject: (label, docs)."""
    out = []
    for i, doc in enumerate(docs):
        spec, _ = pod_spec(doc)
        if spec is not None:
            bad = copy.deepcopy(docs)
            bad_spec, _ = pod_spec(bad[i])
            c = (bad_spec.get("initContainers") or bad_spec["containers"])[0]
            c["restartPolcy"] = c.pop("restartPolicy", "Always")  # unknown field
            out.append((f"{name_of(doc)}: misspelled container field", bad))
            bad = copy.deepcopy(docs)
            bad_spec, _ = pod_spec(bad[i])
            bad_spec["terminationGracePeriodSeconds"] = "45"  # wrong type
            out.append((f"{name_of(doc)}: string grace period", bad))
        if doc.get("kind") == "ServiceMonitor":
            bad = copy.deepcopy(docs)
            bad[i]["spec"]["endpoints"][0]["interval"] = "30 seconds"
            out.append((f"{name_of(doc)}: bad interval", bad))
            bad = copy.deepcopy(docs)
            bad[i]["spec"]["endpoints"][0]["prot"] = "metrics"
            out.append((f"{name_of(doc)}: misspelled endpoint field", bad))
    return out


def dockerignore_patterns():
    path = ROOT / ".dockerignore"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ignored(rel, patterns):
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(rel, pat) or rel.startswith(pat + "/"):
            result = not neg
    return result


def check_dockerfile():
    where = "Dockerfile"
    path = ROOT / "Dockerfile"
    text = path.read_text()
    # Join continuation lines.
    lines = re.sub(r"\\\n", " ", text).splitlines()
    instructions = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
    patterns = dockerignore_patterns()
    stages = [i for i in instructions if i.upper().startswith("FROM ")]
    if len(stages) < 2:
        fail(where, "must be multi-stage")
    final = instructions[instructions.index(stages[-1]):]
    for ins in instructions:
        if ins.upper().startswith("COPY ") and "--from=" not in ins:
            if ins.split()[1].startswith("["):
                fail(where, f"unexpected COPY form: {ins}")
                continue
            for src in ins.split()[1:-1]:
                if src.startswith("--"):
                    continue
                if not (ROOT / src).exists():
                    fail(where, f"COPY source {src} does not exist")
                elif ignored(src.rstrip("/"), patterns):
                    fail(where, f"COPY source {src} is excluded by .dockerignore")
    for ignored_dir in ("target", ".git"):
        if not ignored(ignored_dir, patterns):
            fail(".dockerignore", f"{ignored_dir} is not excluded")
    entry = [i for i in final if i.upper().startswith("ENTRYPOINT ")]
    if not entry or not re.match(r'ENTRYPOINT \["/usr/local/bin/logscrub"', entry[-1]):
        fail(where, 'final stage needs ENTRYPOINT ["/usr/local/bin/logscrub"] (exec form)')
    user = [i for i in final if i.upper().startswith("USER ")]
    if not user or user[-1].split()[1].split(":")[0] != str(UID):
        fail(where, f"final stage must run as USER {UID}")
    if f"EXPOSE {METRICS_PORT}" not in final:
        fail(where, f"final stage must EXPOSE {METRICS_PORT}")
    if not any(re.match(r'RUN \["/usr/local/bin/logscrub", "--version"\]', i) for i in final):
        fail(where, "final stage needs the exec-form --version smoke test")
    labels = " ".join(i for i in final if i.upper().startswith("LABEL "))
    for key in ("title", "version", "revision", "licenses", "description"):
        if f"org.opencontainers.image.{key}=" not in labels:
            fail(where, f"missing OCI label org.opencontainers.image.{key}")
    if not any(f.startswith(where) for f in failures):
        ok(where, "multi-stage, COPY sources in the context, exec ENTRYPOINT, "
                  f"USER {UID}, EXPOSE {METRICS_PORT}, smoke test, OCI labels")


def check_flags_against_binary(binary):
    """Every flag the manifests pass is one the built logscrub accepts."""
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        fail(binary, f"cannot run --help: {e}")
        return
    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    helped = set(re.findall(r"^ {2,6}(?:-\w, )?(--[a-z0-9][a-z0-9-]*)", out, re.M))
    bad = [(where, flag) for where, flag in manifest_flags if flag not in helped]
    for where, flag in bad:
        fail(where, f"{flag} is not in `{binary} --help` ({version})")
    if not bad:
        used = sorted({flag for _, flag in manifest_flags})
        ok(binary, f"{version} --help has every flag the manifests use: {' '.join(used)}")
    missing = sorted(helped - KNOWN_FLAGS - {"--help"})
    if missing:
        print(f"note {binary}: --help has flags this validator does not know yet "
              f"(add them to KNOWN_FLAGS): {' '.join(missing)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", action="append", required=True)
    parser.add_argument("--logscrub", metavar="BINARY",
                        help="also check the manifests' flags against BINARY --help")
    opts = parser.parse_args()
    servicemonitor_schema = json.loads((SCHEMAS / "servicemonitor-v1.json").read_text())

    files = sorted(MANIFESTS.glob("*.yaml"))
    if not files:
        fail(str(MANIFESTS), "no manifests")
    for path in files:
        try:
            docs = load_documents(path)
        except yaml.YAMLError as e:
            fail(path.name, f"YAML: {e}")
            continue
        for doc in docs:
            for version in opts.kubernetes_version:
                errors = schema_errors(doc, version, servicemonitor_schema)
                for e in errors:
                    fail(f"{path.name} {name_of(doc)} (Kubernetes {version})", e)
                if not errors:
                    how = "bundled CRD subset schema" if doc.get("kind") == "ServiceMonitor" \
                        else "strict schema"
                    ok(f"{path.name} {name_of(doc)}", f"{how}, Kubernetes {version}")
            check_contract(path, doc)
        errors = cross_errors(docs)
        for e in errors:
            fail(path.name, e)
        if not errors and any(d.get("kind") in ("Service", "HorizontalPodAutoscaler",
                                                 "PodDisruptionBudget") for d in docs):
            ok(path.name, "Services, HPAs and PodDisruptionBudgets reference what exists")
        for i, doc in enumerate(docs):
            if doc.get("kind") == "HorizontalPodAutoscaler":
                bad = copy.deepcopy(docs)
                bad[i]["spec"]["scaleTargetRef"]["name"] += "-typo"
                if cross_errors(bad):
                    ok(f"{path.name} self-test", f"{name_of(doc)}: wrong scale target is rejected")
                else:
                    fail(f"{path.name} self-test", f"{name_of(doc)}: wrong scale target was NOT rejected")
        for label, bad in mutations(docs):
            caught = any(schema_errors(d, opts.kubernetes_version[0], servicemonitor_schema)
                         for d in bad)
            if caught:
                ok(f"{path.name} self-test", f"{label} is rejected")
            else:
                fail(f"{path.name} self-test", f"{label} was NOT rejected: the validator is not strict")
    if opts.logscrub:
        check_flags_against_binary(opts.logscrub)
    check_dockerfile()
    print(f"manifests: {len(files)} files, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
