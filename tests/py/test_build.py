"""The build refuses OpenSSL and accepts an upstream-style BoringSSL tree (-DBORINGSSL_ROOT)."""
import pathlib
import subprocess

from conftest import ROOT, run

TRIPLET = subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True).stdout.strip()
DEBIAN_BSSL_LIB = pathlib.Path(f"/usr/lib/{TRIPLET}/android")


def configure(tmp_path, root):
    return run(["cmake", "-S", ROOT, "-B", tmp_path / "b", f"-DBORINGSSL_ROOT={root}",
                "-DMH_BUILD_TESTS=OFF"], timeout=120)


def test_configure_refuses_openssl_headers(tmp_path):
    """A tree with OpenSSL's headers and libraries (Debian libssl-dev) is not BoringSSL."""
    assert pathlib.Path("/usr/include/openssl/ssl.h").is_file(), "libssl-dev (scripts/deps)"
    fake = tmp_path / "openssl-tree"
    (fake / "include").mkdir(parents=True)
    (fake / "include" / "openssl").symlink_to("/usr/include/openssl")
    (fake / "lib").symlink_to(f"/usr/lib/{TRIPLET}")
    r = configure(tmp_path, fake)
    assert r.returncode != 0
    said = " ".join((r.stdout + r.stderr).split())  # CMake wraps its messages
    assert "are not BoringSSL (OPENSSL_IS_BORINGSSL is not defined): refusing to build against " \
        "OpenSSL" in said, said


def test_configure_reports_a_missing_tree(tmp_path):
    r = configure(tmp_path, tmp_path / "nowhere")
    assert r.returncode != 0
    assert "BoringSSL not found (upstream tree" in " ".join((r.stdout + r.stderr).split())


def test_upstream_layout_builds_and_runs(tmp_path):
    """include/ and build/lib{ssl,crypto} as an upstream checkout has them, here made of the Debian
    package's files so that the test needs no network."""
    tree = tmp_path / "boringssl"
    (tree / "build").mkdir(parents=True)
    (tree / "include").symlink_to("/usr/include/android")
    for lib in ("libssl.so", "libcrypto.so", "libssl.so.0", "libcrypto.so.0"):  # with their SONAMEs
        (tree / "build" / lib).symlink_to(DEBIAN_BSSL_LIB / lib)
    r = configure(tmp_path, tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"BoringSSL: upstream tree {tree}" in r.stdout
    r = run(["cmake", "--build", tmp_path / "b", "-j2", "--target", "mtls-harness"], timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = run([tmp_path / "b" / "mtls-harness", "--version"])
    assert r.returncode == 0 and "BoringSSL, API version" in r.stdout
    # The rpath points into the tree, so the library loaded is the tree's.
    assert f"libssl: {tree}/build/libssl.so.0" in r.stdout, r.stdout
