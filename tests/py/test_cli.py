"""The command line: version, help, exit codes, and what the binary links."""
import re

from conftest import run


def test_version_names_every_library(mh):
    r = mh("--version")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.match(r"mtls-harness \d+\.\d+\.\d+\n", out)
    assert re.search(r"TLS: +BoringSSL, API version \d+ ", out)
    assert "libssl: /" in out  # the file the TLS library was loaded from
    assert re.search(r"libev: +\d+\.\d+", out)
    assert re.search(r"cJSON: +\d+\.\d+\.\d+", out)
    assert re.search(r"libpcap: +libpcap version \d", out)
    assert re.search(r"zip: +minizip with zlib \d", out)


def test_help_lists_commands_and_exit_codes(mh):
    r = mh("--help")
    assert r.returncode == 0
    assert re.search(r"^  pki +generate the fixture PKI", r.stdout, re.M)
    assert "2 harness or input error" in r.stdout


COMMAND_OPTIONS = {
    "pki": ("--out DIR", "--force", "--verbose", "--list-keys"),
    "check": ("--fixtures DIR", "--list-keys"),
    "serve": ("--fixtures DIR", "--ephemeral-ports", "--events FILE", "--for SECONDS",
              "--outage LOC:START:DURATION", "--quiet"),
    "run": ("--out DIR", "--filter GLOB", "--jobs N", "--strict", "--baseline FILE",
            "--profiles DIR", "--quiet", "--pcap", "--capture-iface IFACE", "--keylog FILE"),
    "load": ("--location NAME", "--target HOST:PORT", "--identities-from SPEC", "--identity",
             "--bad-identity", "--bad-share P", "--tls 1.2|1.3", "--rate R", "--connections N",
             "--duration S", "--threads T", "--timeout-ms MS", "--out DIR", "--quiet",
             "--resume", "--resume-share P", "--sweep", "--sweep-p99-ms MS",
             "--server-threads N", "--shard I/N", "--start-at TIME"),
    "merge": ("--out DIR", "--force", "--max-skew MS", "--quiet", "REPORT"),
}


def test_command_help_describes_every_option(mh):
    for cmd, options in COMMAND_OPTIONS.items():
        for args in ((cmd, "--help"), ("help", cmd)):
            r = mh(*args)
            assert r.returncode == 0
            assert r.stdout.startswith(f"Usage: mtls-harness {cmd} ")
            for opt in options:
                assert opt in r.stdout, (args, opt)
    listed = re.findall(r"^  (\w+) ", mh("--help").stdout, re.M)
    assert listed == list(COMMAND_OPTIONS)


def test_unknown_command_and_missing_arguments_exit_2(mh):
    r = mh("frobnicate")
    assert r.returncode == 2
    assert "unknown command 'frobnicate'" in r.stderr
    assert mh().returncode == 2
    r = mh("pki", "fixtures/federation.json")
    assert r.returncode == 2 and "--out DIR is required" in r.stderr
    r = mh("pki", "--out", "/tmp/x")
    assert r.returncode == 2 and "give exactly one SPEC.json" in r.stderr
    r = mh("pki", "--bogus")
    assert r.returncode == 2


def test_binary_does_not_load_openssl(harness):
    """OpenSSL's libssl.so.3/libcrypto.so.3 export BoringSSL's symbol names: never both."""
    libs = run(["ldd", harness], check=True).stdout
    assert "libssl.so.3" not in libs and "libcrypto.so.3" not in libs, libs
    # The library --version reports is the one the loader actually maps.
    version = run([harness, "--version"], check=True).stdout
    where = re.search(r"libssl: ([^,\s]+)", version).group(1)
    if where != "statically":
        assert f"=> {where} " in libs, (where, libs)


def test_version_says_which_boringssl_build_is_loaded(harness):
    """scripts/build links the full-speed build of Debian's source package when it could be built,
    else Debian's binary package (OPENSSL_SMALL); --version must say which, from the loaded file."""
    from conftest import ROOT
    version = run([harness, "--version"], check=True).stdout
    crypto = re.search(r"libcrypto: ([^ ]+) \(([^)]*)\)", version)
    assert crypto, version
    if (ROOT / "build-boringssl" / "lib" / "libcrypto.so.0").exists():
        assert crypto.group(1).startswith(str(ROOT / "build-boringssl"))
        assert crypto.group(2) == "full-speed build of Debian's source"
    else:
        assert "/android/" in crypto.group(1)
        assert crypto.group(2).startswith("Debian binary package, OPENSSL_SMALL")


def test_version_says_which_p256_and_x25519_code_runs(harness):
    """The handshake's cost is ECDSA P-256 and X25519: --version names the code the loaded library
    runs for them, and the full-speed build's P-256 is the assembly with the MULX/ADX path exactly
    when this CPU has BMI2 and ADX."""
    version = run([harness, "--version"], check=True).stdout
    line = re.search(r"^  crypto: +(.*)", version, re.M)
    assert line, version
    crypto = re.search(r"libcrypto: ([^ ]+) ", version).group(1)
    flags = next((ln.split(":", 1)[1].split() for ln in open("/proc/cpuinfo")
                  if ln.startswith("flags")), [])
    if "/build-boringssl/" in crypto:
        assert line.group(1).startswith("ECDSA P-256: nistz256 x86-64 assembly"), line.group(1)
        has = "adx" in flags and "bmi2" in flags
        assert ("the CPU has BMI2 and ADX" in line.group(1)) == has, (flags, line.group(1))
        assert "X25519: fiat-crypto 64-bit C with precomputed tables" in line.group(1)
    else:
        assert "OPENSSL_SMALL" in line.group(1), line.group(1)
