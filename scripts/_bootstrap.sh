# Sourced by scripts/test and scripts/demo: builds .venv from pyproject.toml (pinned) and
# installs the system packages the project relies on when they are missing.

log() { printf '[bootstrap] %s\n' "$*" >&2; }

find_python() {
    local candidate
    for candidate in "${SHOUWANG_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    log "Python >= 3.11 is required (set SHOUWANG_PYTHON to its path)"
    return 1
}

# pip_quiet ARGS...: pip in .venv, minus this machine's noise about absent local indexes.
pip_quiet() {
    local out status=0
    out="$(.venv/bin/python -m pip --quiet "$@" 2>&1)" || status=$?
    printf '%s\n' "$out" | grep -v '^WARNING: Location' >&2 || true
    return "$status"
}

# bootstrap_venv EXTRAS: (re)install .venv when pyproject.toml changed since the last install.
bootstrap_venv() {
    local extras="$1" stamp=".venv/.shouwang-installed" want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
    if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        "$(find_python)" -m venv .venv
    fi
    log "installing .[$extras] into .venv"
    pip_quiet install --upgrade pip
    pip_quiet install -e ".[$extras]"
    .venv/bin/python -m pip check >&2
    echo "$want" >"$stamp"
}

# apt_install PACKAGE...: install Debian packages when running as root with apt available.
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "missing $*: install them (as root: apt-get install $*)"
        return 1
    fi
    log "installing Debian packages: $*"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ensure_test_services: the binaries the harness starts privately, and the local shared
# services when no SHOUWANG_TEST_* URL points elsewhere.
ensure_test_services() {
    command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || apt_install mosquitto
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
    [ "$(id -u)" = 0 ] || return 0
    if [ -z "${SHOUWANG_TEST_MQTT_URL:-}" ] && ! port_open 1883; then
        log "starting the local Mosquitto"
        mosquitto -d -c /etc/mosquitto/mosquitto.conf || log "could not start Mosquitto"
    fi
    if [ -z "${SHOUWANG_TEST_DATABASE_URL:-}" ] && ! port_open 5432; then
        log "starting the local PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start ||
            log "could not start PostgreSQL"
    fi
}

# ensure_browser: Debian's Chromium and Noto CJK fonts for the console's browser tests
# (tests/browser, Playwright with executable_path; nothing is downloaded by Playwright).
ensure_browser() {
    local missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    ls /usr/share/fonts/opentype/noto/NotoSansCJK-* >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
    [ "${#missing[@]}" = 0 ] || apt_install "${missing[@]}"
}
