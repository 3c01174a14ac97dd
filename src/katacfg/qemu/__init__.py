"""QEMU's command line for a pod sandbox, exactly as Kata 1.x builds it.

`katacfg.qemu.argv.build_qemu_command(cfg, host, sandbox_id=..., uuid=...)` turns a resolved
configuration into the argv Kata 1.x passes to QEMU (and to virtiofsd for virtio-fs), with
the origin of every option. The rules are those of the runtime's `virtcontainers/qemu.go`,
`qemu_amd64.go`, `qemu_arch_base.go`, the agent's `configure`, the veth endpoints of
`network.go` and govmm's `LaunchQemu` (QEMU-CONTRACT.md).
"""
