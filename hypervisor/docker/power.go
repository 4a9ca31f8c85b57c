package docker

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// cleanupTimeout bounds the removal of what a failed call made.
const cleanupTimeout = 30 * time.Second

// Start starts a stopped container. A host port taken meanwhile is
// ovm.ErrConflict, and the container stays stopped.
func (d *Driver) Start(ctx context.Context, ref hypervisor.Ref) error {
	c, err := d.inspect(ctx, ref, "start")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "start", powerOf(c.State.Status)); err != nil {
		return err
	}
	err = d.c.cli.ContainerStart(ctx, c.ID, container.StartOptions{})
	return d.c.engineError(ctx, err, "", "start %s", ref)
}

// Stop stops a running container: gracefully (the image's stop signal,
// then SIGKILL after the timeout), or at once with SIGKILL when forced. It
// returns once the container has stopped.
func (d *Driver) Stop(ctx context.Context, ref hypervisor.Ref, opts hypervisor.StopOptions) error {
	c, err := d.inspect(ctx, ref, "stop")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "stop", powerOf(c.State.Status)); err != nil {
		return err
	}
	if opts.Force {
		if err := d.c.cli.ContainerKill(ctx, c.ID, "KILL"); err != nil && !strings.Contains(err.Error(), "is not running") {
			return d.c.engineError(ctx, err, "", "kill %s", ref)
		}
		return d.waitStopped(ctx, c.ID, ref)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = hypervisor.DefaultStopTimeout
	}
	secs := int(math.Ceil(timeout.Seconds()))
	err = d.c.cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs})
	return d.c.engineError(ctx, err, "", "stop %s", ref)
}

// waitStopped waits, within ctx, until the container is no longer running.
func (d *Driver) waitStopped(ctx context.Context, id string, ref hypervisor.Ref) error {
	ok, errs := d.c.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-ok:
		return nil
	case err := <-errs:
		if classify(ctx, err) == ovm.KindNotFound {
			return nil // removed meanwhile (--rm)
		}
		return d.c.engineError(ctx, err, "", "wait for %s to stop", ref)
	}
}

// Reboot restarts a running container: a graceful stop bounded by
// DefaultRebootTimeout, then a start.
func (d *Driver) Reboot(ctx context.Context, ref hypervisor.Ref) error {
	c, err := d.inspect(ctx, ref, "reboot")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "reboot", powerOf(c.State.Status)); err != nil {
		return err
	}
	secs := int(DefaultRebootTimeout / time.Second)
	err = d.c.cli.ContainerRestart(ctx, c.ID, container.StopOptions{Timeout: &secs})
	return d.c.engineError(ctx, err, "", "reboot %s", ref)
}

// Delete removes a stopped container with its anonymous volumes; named
// volumes (OVM volumes) stay.
func (d *Driver) Delete(ctx context.Context, ref hypervisor.Ref) error {
	c, err := d.inspect(ctx, ref, "delete")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "delete", powerOf(c.State.Status)); err != nil {
		return err
	}
	err = d.c.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{RemoveVolumes: true})
	if err != nil && classify(ctx, err) == ovm.KindNotFound {
		return ovm.Wrap(ovm.KindNotFound, err, "docker host %s: delete: instance %s not found", d.c.name, ref)
	}
	return d.c.engineError(ctx, err, "", "delete %s", ref)
}

// Reconfigure changes a container's CPU and memory limits (docker update):
// live on a running container, for its next start on a stopped one.
func (d *Driver) Reconfigure(ctx context.Context, ref hypervisor.Ref, r hypervisor.Resize) (hypervisor.ResizeResult, error) {
	if err := d.c.ctxErr(ctx, "reconfigure "+ref.String()); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	var f ovm.Fields
	if r.CPU < 0 {
		f.Add("cpuMilli", "must not be negative")
	}
	switch {
	case r.Memory < 0:
		f.Add("memoryBytes", "must not be negative")
	case r.Memory > 0 && r.Memory < ovm.MinMemory:
		f.Addf("memoryBytes", "must be at least %s", ovm.MinMemory)
	}
	f = append(f, d.sizeFields("", r.CPU, r.Memory)...)
	if err := f.Err("invalid resize"); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	c, err := d.inspect(ctx, ref, "reconfigure")
	if err != nil {
		return hypervisor.ResizeResult{}, err
	}
	var u container.UpdateConfig
	if r.CPU > 0 {
		u.NanoCPUs = int64(r.CPU) * 1e6
	}
	if r.Memory > 0 {
		u.Memory, u.MemorySwap = int64(r.Memory), int64(r.Memory)
	}
	if _, err := d.c.cli.ContainerUpdate(ctx, c.ID, u); err != nil {
		return hypervisor.ResizeResult{}, d.c.engineError(ctx, err, "memoryBytes", "reconfigure %s", ref)
	}
	return hypervisor.ResizeResult{Live: powerOf(c.State.Status) == ovm.PowerRunning}, nil
}

// Stats samples a container once: the engine reads its counters twice,
// about a second apart, which gives the CPU share. A stopped container
// uses nothing.
func (d *Driver) Stats(ctx context.Context, ref hypervisor.Ref) (hypervisor.Stats, error) {
	c, err := d.inspect(ctx, ref, "stats")
	if err != nil {
		return hypervisor.Stats{}, err
	}
	if powerOf(c.State.Status) != ovm.PowerRunning {
		return hypervisor.Stats{Time: time.Now(), MemoryLimit: ovm.Bytes(c.HostConfig.Memory)}, nil
	}
	resp, err := d.c.cli.ContainerStats(ctx, c.ID, false)
	if err != nil {
		return hypervisor.Stats{}, d.c.engineError(ctx, err, "", "stats %s", ref)
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return hypervisor.Stats{}, d.c.engineError(ctx, err, "", "stats %s: decode", ref)
	}
	return statsOf(s, c.HostConfig.NanoCPUs), nil
}

// statsOf converts one sample of the engine's statistics of a container
// limited to nanoCPUs (0: no limit).
//
//	CPUPercent = min((cpu delta / system delta) x online CPUs, nanoCPUs / 1e9) x 100
//	MemoryUsed = usage less the page cache (cgroup v1 "cache", v2 "inactive_file")
//
// The kernel keeps a container within its CPU limit (CFS quota); a share
// above it is the skew between the two clocks the engine reads (the
// cgroup's and the system's), so it is capped at the limit.
func statsOf(s container.StatsResponse, nanoCPUs int64) hypervisor.Stats {
	out := hypervisor.Stats{Time: s.Read}
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpuDelta > 0 && sysDelta > 0 && s.PreCPUStats.SystemUsage > 0 {
		out.CPUPercent = cpuDelta / sysDelta * online * 100
		if nanoCPUs > 0 {
			out.CPUPercent = min(out.CPUPercent, float64(nanoCPUs)/1e7)
		}
	}
	used := s.MemoryStats.Usage
	cache, ok := s.MemoryStats.Stats["inactive_file"]
	if !ok {
		cache = s.MemoryStats.Stats["cache"]
	}
	if cache < used {
		used -= cache
	}
	out.MemoryUsed = ovm.Bytes(used)
	out.MemoryLimit = ovm.Bytes(s.MemoryStats.Limit)
	if out.MemoryUsed > out.MemoryLimit && out.MemoryLimit > 0 {
		out.MemoryUsed = out.MemoryLimit
	}
	for _, n := range s.Networks {
		out.NetRxBytes += n.RxBytes
		out.NetTxBytes += n.TxBytes
	}
	out.DiskRead, out.DiskWrite = readWrite(s.BlkioStats.IoServiceBytesRecursive)
	out.DiskReadOps, out.DiskWriteOps = readWrite(s.BlkioStats.IoServicedRecursive)
	return out
}

// readWrite sums the read and the write entries of a blkio statistic.
func readWrite(entries []container.BlkioStatEntry) (read, write uint64) {
	for _, e := range entries {
		switch strings.ToLower(e.Op) {
		case "read":
			read += e.Value
		case "write":
			write += e.Value
		}
	}
	return read, write
}

// containsAny reports whether s contains any of subs, ignoring case.
func containsAny(s string, subs ...string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(s, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}
