"""Kata 4.x profile rules (issue 10): profile choice, config.d drop-ins with Go's semantics,
per-value origins, `resolve --key`, `diff`. Real files under tmp_path, the real CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from katacfg.host.facts import Host
from katacfg.profiles import classify
from katacfg.profiles.kata4x.load import load

HOST = Host.real().with_facts(cpus=2, vhost_vsock=True, memory_mib=8192)
STOCK_4X = Path(__file__).parent / "data" / "conformance-4x" / "cases" / "stock_clh" / \
    "config.toml"


def install(tmp_path: Path, extra: str = "") -> Path:
    for name in ("qemu", "vmlinux", "image"):
        (tmp_path / name).write_text(name)
    config = tmp_path / "configuration.toml"
    config.write_text(f'[hypervisor.qemu]\npath = "{tmp_path}/qemu"\nkernel = "{tmp_path}/vmlinux"'
                      f'\nimage = "{tmp_path}/image"\nvirtio_fs_daemon = "/x"\n'
                      'kernel_params = "a=1 b=2"\nenable_annotations = ["qq", "^default_memory$"]\n'
                      + extra)
    return config


def dropin(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "config.d"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def katacfg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "katacfg", *args], capture_output=True,
                          text=True, timeout=60)


# -- profile choice ----------------------------------------------------------------------------

def test_auto_picks_4x_for_a_stock_4x_file():
    profile, reason = classify(STOCK_4X.read_text())
    assert profile == "4.x" and "4.x" in reason


@pytest.mark.parametrize("text", [
    "[hypervisor.qemu]\nrootfs_type = \"ext4\"\n",  # one later key: could be a typo in 1.x
    "[proxy.kata]\n[hypervisor.remote]\n",  # a 1.x table wins over any 4.x evidence
    "[hypervisor.qemu]\nuse_vsock = true\nrootfs_type='x'\nindep_iothreads=1\nrootless=true\n",
    "",
])
def test_auto_stays_1x_without_unambiguous_evidence(text):
    assert classify(text)[0] == "1.x"


def test_auto_says_on_stderr_when_it_picks_4x(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[hypervisor.remote]\n")
    p = katacfg("--kata-config", str(config), "resolve", "--json")
    assert "profile 4.x (auto)" in p.stderr and "[hypervisor.remote]" in p.stderr
    assert json.loads(p.stdout)["profile"] == "4.x-go"


@pytest.mark.parametrize("text", [
    '[hypervisor.qemu]\nkernel_params = "a \\e[0m"\n',  # \e: TOML 1.1
    '[hypervisor.qemu]\nkernel_params = "\\x41"\n',  # \xHH: TOML 1.1
    "[hypervisor.qemu]\nmachine_accelerators.a = 1\n",  # dotted key: TOML 0.5
    "[runtime]\nx = { a = 1,\n  b = 2 }\n",  # newline in an inline table
])
def test_toml_11_syntax_keeps_kata_1x_refusal_and_names_the_4x_profile(tmp_path, text):
    # no evidence for auto: a 1.x file with such an error gets Kata 1.x's refusal (the 1.x
    # runtime's conformance cases are read under auto); the hint says 4.x reads it
    config = tmp_path / "c.toml"
    config.write_text(text)
    p = katacfg("--kata-config", str(config), "resolve", "--json")
    assert p.returncode == 1 and json.loads(p.stdout)["error"].startswith("Near line ")
    assert "profile 4.x (auto)" not in p.stderr
    assert "`--profile 4.x` loads it" in p.stderr
    line = text.count("\n", 0, text.index("=", text.index("\n")))  # the offending line
    assert f"c.toml:{line + 1}:" in p.stderr


# -- drop-ins -------------------------------------------------------------------------------

def test_dropins_apply_in_name_order_key_by_key(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "9-last.toml", "[hypervisor.qemu]\ndefault_memory = 3000\n")
    dropin(tmp_path, "20-first.toml", "[hypervisor.qemu]\ndefault_memory = 1000\n"
                                      "memory_slots = 3\n")
    cfg = load(str(config), HOST)
    assert cfg.hypervisor["default_memory"] == 3000  # "9-last" sorts after "20-first"
    assert cfg.hypervisor["memory_slots"] == 3  # kept: the later file does not name it
    assert cfg.hypervisor["path"] == str(tmp_path / "qemu")  # main file's key survives
    origin = cfg.origins[("hypervisor", "default_memory")]
    assert (origin.kind, origin.file, origin.line) == \
        ("dropin", str(tmp_path / "config.d" / "9-last.toml"), 2)


def test_dropin_arrays_and_kernel_params_are_replaced_not_appended(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "50.toml", '[hypervisor.qemu]\nkernel_params = "c=3"\n'
                                'enable_annotations = ["z"]\n')
    cfg = load(str(config), HOST)
    assert cfg.hypervisor["enable_annotations"] == ("z",)
    assert cfg.hypervisor["kernel_params"][-1] == ("c", "3")
    assert ("a", "1") not in cfg.hypervisor["kernel_params"]


def test_unknown_key_in_a_dropin_table_is_refused_but_ignored_in_the_main_file(tmp_path):
    config = install(tmp_path, "not_a_key = 1\n")
    load(str(config), HOST)  # the main file: ignored
    path = dropin(tmp_path, "50.toml", "[hypervisor.qemu]\nnot_a_key = 1\n")
    with pytest.raises(Exception) as exc:
        load(str(config), HOST)
    assert exc.value.text == (  # type: ignore[attr-defined]
        f"error applying key 'hypervisor.qemu.not_a_key' from drop-in file \"{path}\": error "
        'getting key "not_a_key" from a decoded drop-in conf file: key "not_a_key" not found')


def test_an_editor_backup_in_config_d_is_read_and_can_break_loading(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "50.toml~", "[hypervisor.qemu\n")
    with pytest.raises(Exception) as exc:
        load(str(config), HOST)
    # lexTableNameEnd refuses the newline with errorf, after next() counted it: line 2
    assert exc.value.text == (  # type: ignore[attr-defined]
        f'error decoding file "{tmp_path}/config.d/50.toml~": toml: line 2: expected \'.\' '
        "or ']' to end table name, but got '\\n' instead")


def test_a_folder_in_config_d_fails_the_load(tmp_path):
    config = install(tmp_path)
    (tmp_path / "config.d" / "sub").mkdir(parents=True)
    with pytest.raises(Exception) as exc:
        load(str(config), HOST)
    sub = tmp_path / "config.d" / "sub"
    assert exc.value.text == f'error reading file "{sub}": read {sub}: is a directory'  # type: ignore[attr-defined]


def test_a_dropin_without_table_keys_creates_no_agent_table(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "50.toml", "[agent.kata]\n")
    assert load(str(config), HOST).agent["long_live_conn"] is False
    dropin(tmp_path, "60.toml", "[agent.kata]\nenable_debug = true\n")
    cfg = load(str(config), HOST)
    assert cfg.agent["long_live_conn"] is True and cfg.agent["enable_debug"] is True


def test_without_dropins(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "50.toml", "[hypervisor.qemu]\ndefault_memory = 4096\n")
    assert load(str(config), HOST, dropins=False).hypervisor["default_memory"] == 2048


# -- origins, resolve --key, diff ------------------------------------------------------------

def test_resolve_key_names_the_dropin_that_set_it(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "70-mem.toml", "[hypervisor.qemu]\n\ndefault_memory = 4096\n")
    p = katacfg("--profile", "4.x", "--kata-config", str(config), "resolve", "--key",
                "default_memory", "--host-vhost-vsock")
    assert p.returncode == 0, p.stderr
    assert f"default_memory = 4096    # {tmp_path}/config.d/70-mem.toml:3 (drop-in)" in p.stdout


def test_a_clamped_value_says_why(tmp_path):
    config = install(tmp_path, "default_memory = 100\n")
    origin = load(str(config), HOST).origins[("hypervisor", "default_memory")]
    assert origin.kind == "clamp" and "256" in origin.detail and origin.line == 8


def test_diff_with_and_without_dropins(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "50.toml", "[hypervisor.qemu]\ndefault_memory = 4096\n")
    p = katacfg("--profile", "4.x", "diff", str(config), str(config), "--no-dropins-b",
                "--json", "--host-vhost-vsock")
    assert p.returncode == 0, p.stderr
    diffs = json.loads(p.stdout)["differences"]
    assert [d["key"] for d in diffs] == ["hypervisor.default_memory"]
    assert diffs[0]["a"] == {"value": 4096, "origin": f"{tmp_path}/config.d/50.toml:2 (drop-in)"}
    assert diffs[0]["b"]["value"] == 2048


def test_diff_of_one_file_under_both_profiles(tmp_path):
    config = install(tmp_path)
    p = katacfg("diff", str(config), str(config), "--profile-a", "1.x", "--profile-b", "4.x",
                "--json", "--host-vhost-vsock")
    assert p.returncode == 0, p.stderr
    keys = {d["key"]: d for d in json.loads(p.stdout)["differences"]}
    assert keys["hypervisor.shared_fs"]["a"]["value"] == "virtio-9p"
    assert keys["hypervisor.shared_fs"]["b"]["value"] == "virtio-fs"
    assert keys["proxy.type"]["b"]["value"] == "<absent>"


# -- lint under 4.x ---------------------------------------------------------------------------

def test_lint_4x_notes_runtime_rs_differences(tmp_path):
    config = install(tmp_path, "default_memory = 100\n")
    (tmp_path / "shared.toml").write_text("[hypervisor.qemu]\nmemory_slots = 4\n")
    (tmp_path / "config.d").mkdir()
    (tmp_path / "config.d" / "50-link.toml").symlink_to(tmp_path / "shared.toml")
    p = katacfg("--profile", "4.x", "lint", "--format", "json", "--host-vhost-vsock",
                str(config))
    codes = {d["code"] for f in json.loads(p.stdout) for d in f["diagnostics"]}
    assert {"KL240", "KL241", "KL201", "KL243"} <= codes, p.stdout


def test_lint_4x_reports_1x_keys_4x_ignores(tmp_path):
    config = install(tmp_path, "use_vsock = true\n\n[proxy.kata]\npath = \"/x\"\n")
    p = katacfg("--profile", "4.x", "lint", "--host-vhost-vsock", str(config))
    assert "`hypervisor.qemu.use_vsock` is a Kata 1.x key that 4.x ignores" in p.stdout
    assert "[proxy] is a Kata 1.x table that 4.x ignores" in p.stdout


# -- explain under 4.x ------------------------------------------------------------------------

def test_explain_4x_through_kata_deploy_on_containerd_2(tmp_path):
    config = install(tmp_path)
    dropin(tmp_path, "50.toml", "[hypervisor.qemu]\ndefault_memory = 3000\n")
    pods = tmp_path / "pods.yaml"
    pods.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\n  annotations:\n"
        '    io.katacontainers.config.hypervisor.default_memory: "4096"\n'
        '    io.katacontainers.config_path: "/etc/other.toml"\n'
        "spec:\n  runtimeClassName: kata-qemu\n  containers:\n  - name: c\n    image: b\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  annotations:\n"
        '    io.katacontainers.config.hypervisor.machine_type: "pc"\n'
        "spec:\n  runtimeClassName: kata-qemu\n  containers:\n  - name: c\n    image: b\n")
    containerd = Path(__file__).parent / "data" / "cri" / "kata-deploy-v3" / "etc" / \
        "containerd" / "config.toml"
    p = katacfg("--profile", "4.x", "--kata-config", str(config), "explain", str(pods),
                "--containerd-config", str(containerd), "--host-vhost-vsock", "--json")
    assert p.returncode == 1, p.stderr
    report = json.loads(p.stdout)
    big, bad = report["pods"]
    assert big["starts"] is True
    assert {"key": "hypervisor.default_memory", "node": 3000, "pod": 4096} in big["changes"]
    assert any("config_path is ignored" in n for n in big["notes"])
    assert bad["starts"] is False
    assert bad["failure"] == "annotation io.katacontainers.config.hypervisor.machine_type " \
        "is not enabled"


def test_library_load_and_resolve_take_the_4x_profile(tmp_path):
    import katacfg
    from katacfg.profiles import get_profile

    config = install(tmp_path)
    dropin(tmp_path, "50.toml", "[hypervisor.qemu]\ndefault_memory = 3000\n")
    four = get_profile("4.x")
    assert katacfg.load(config, host=HOST, profile=four).hypervisor["default_memory"] == 3000
    cfg = katacfg.resolve(config, {"io.katacontainers.config.hypervisor.default_memory": "4096"},
                          host=HOST, profile=four)
    assert cfg.hypervisor["default_memory"] == 4096
    assert cfg.origins[("hypervisor", "default_memory")].kind == "annotation"
    assert katacfg.load(config, host=HOST).hypervisor.default_memory == 2048  # 1.x: no config.d


# -- BurntSushi v1.6 texts ---------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("version = ", 'toml: line 1 (last key "version"): unexpected EOF; expected value'),
    ("[hypervisor.qemu]\nmachine_type = q35\n",
     'toml: line 2 (last key "hypervisor.qemu.machine_type"): expected value but found "q" '
     "instead"),
    ('[a]\nb = "x"\nb = "y"\n', "toml: line 3 (last key \"a.b\"): Key 'a.b' has already been "
                                "defined."),
    ("a = .5\n", "toml: line 1 (last key \"a\"): floats must start with a digit, not '.'"),
    # lexer: an escape v1.6 does not know (errLexEscape)
    ('[t]\na.b = "x\\qy"\n', "toml: line 2 (last key \"t.a.b\"): invalid escape in string '\\q'"),
    ('a = """x\\qy\n"""\n', "toml: line 1 (last key \"a\"): invalid escape in string '\\q'"),
    # parser: '\ ' and '\<tab>' pass the lexer in a one-line string, replaceEscapes refuses them
    ('a = "x\\ y"\n', "toml: line 1 (last key \"a\"): invalid escape: '\\ '"),
    ('a = "x\\\ty"\n', "toml: line 1 (last key \"a\"): invalid escape: '\\\t'"),
    # a one-line string left open at the end of the text
    ('a = "abc', "toml: line 1 (last key \"a\"): unexpected EOF; expected '\"'"),
    ("x = 1\na = 'abc", "toml: line 2 (last key \"a\"): unexpected EOF; expected \"'\""),
    ('a = """abc', "toml: line 1 (last key \"a\"): unexpected EOF; expected '\"\"\"'"),
    ("a = '''abc", "toml: line 1 (last key \"a\"): unexpected EOF; expected \"'''\""),
])
def test_toml_v16_syntax_texts(text, message):
    from katacfg.profiles.kata4x.toml import TomlError, parse

    with pytest.raises(TomlError) as exc:
        parse(text, "f.toml")
    assert exc.value.text == message and exc.value.syntax


@pytest.mark.parametrize("line,message", [
    ("default_memory = -1", "-1 is out of range for uint32"),
    ("default_memory = \"1\"", "incompatible types: TOML value has type string; destination "
                               "has type integer"),
    ("default_vcpus = 100000000", "100000000 is out of the safe float32 range"),
    ("default_vcpus = 1e39", "1e+39 is out of range for float32"),
    ("enable_annotations = [1]", "incompatible types: TOML value has type int64; destination "
                                 "has type string"),
])
def test_toml_v16_type_and_range_texts(tmp_path, line, message):
    config = tmp_path / "c.toml"
    config.write_text(f"[hypervisor.qemu]\n{line}\n")
    with pytest.raises(Exception) as exc:
        load(str(config), HOST)
    key = line.split(" ")[0]
    assert exc.value.text == f'toml: line 2 (last key "hypervisor.qemu.{key}"): {message}'  # type: ignore[attr-defined]


def test_deep_nesting_is_one_refusal_not_a_crash(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[hypervisor.qemu]\na = " + "[" * 20000 + "]" * 20000 + "\n")
    p = katacfg("--profile", "4.x", "--kata-config", str(config), "resolve", "--json")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "nested too deeply" in json.loads(p.stdout)["error"]


@pytest.mark.parametrize("value,outcome", [
    ("64Mi", 64 << 20), ("1.5Ki", 1536), ("9" * 30 + "Ei", 0),
    ("1e999999", "Unsupported EPC format '1e999999': use Ki | Mi | Gi | Ti | Pi | Ei as suffix"),
    ("1e99999999", "Unsupported EPC format '1e99999999': use Ki | Mi | Gi | Ti | Pi | Ei as "
                   "suffix"),
])
def test_sgx_epc_is_bounded(tmp_path, value, outcome):
    from katacfg.profiles.kata4x.pipeline import resolve

    config = install(tmp_path)
    annotations = {"sgx.intel.com/epc": value, "io.kubernetes.cri.container-type": "sandbox"}
    if isinstance(outcome, int):
        assert resolve(str(config), annotations, HOST).hypervisor["sgx_epc_size"] == outcome
    else:
        with pytest.raises(Exception) as exc:
            resolve(str(config), annotations, HOST)
        assert exc.value.text == outcome  # type: ignore[attr-defined]


def test_numa_mapping_of_a_huge_range_stops_at_the_first_missing_node(tmp_path):
    import time

    from katacfg.profiles.kata4x.pipeline import resolve

    config = install(tmp_path)
    text = config.read_text().replace('enable_annotations = ["qq", "^default_memory$"]',
                                      'enable_annotations = ["numa"]')
    config.write_text(text)
    start = time.monotonic()
    with pytest.raises(Exception) as exc:
        resolve(str(config), {"io.katacontainers.config.hypervisor.numa_mapping":
                              "0-99999999999"}, HOST)
    assert time.monotonic() - start < 5
    assert "/sys/devices/system/node/node" in exc.value.text  # type: ignore[attr-defined]


def test_assume_node_files_reads_a_4x_node_config_on_another_machine(tmp_path):
    """The paths a 4.x file names need not exist here; allow-lists are checked by pattern,
    still refusing what Go's Glob can never return (`..`)."""
    node = tmp_path / "node.toml"
    node.write_text('[hypervisor.qemu]\npath = "/opt/kata/bin/qemu-system-x86_64"\n'
                    'kernel = "/opt/kata/share/kata-containers/vmlinux.container"\n'
                    'image = "/opt/kata/share/kata-containers/kata-containers.img"\n'
                    'valid_hypervisor_paths = ["/opt/kata/bin/*"]\n'
                    'enable_annotations = ["path"]\n'
                    'pflashes = ["/opt/kata/share/ovmf/OVMF_VARS.fd"]\n'
                    'virtio_fs_daemon = "/opt/kata/libexec/virtiofsd"\n'
                    '[runtime]\nsandbox_bind_mounts = ["/opt/kata/etc/certs"]\n')
    base = ["--profile", "4.x", "--kata-config", str(node), "resolve", "--json",
            "--host-vhost-vsock"]
    p = katacfg(*base)
    assert p.returncode == 1 and "qemu-system-x86_64 does not exist" in p.stderr
    p = katacfg(*base, "--assume-node-files")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["hypervisor"]["kernel"].endswith("vmlinux.container")
    ann = "io.katacontainers.config.hypervisor.path"
    p = katacfg(*base, "--assume-node-files", "-a", f"{ann}=/opt/kata/bin/qemu-other")
    assert p.returncode == 0, p.stderr
    p = katacfg(*base, "--assume-node-files", "-a", f"{ann}=/opt/kata/bin/..")
    assert p.returncode == 1 and "required from annotation is not valid" in p.stderr
