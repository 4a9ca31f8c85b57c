package ovm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MilliCPU is an amount of virtual CPU in thousandths of a vCPU, so that
// containers can ask for half a CPU while VMs ask for whole ones.
type MilliCPU int64

// CPUs returns n whole vCPUs.
func CPUs(n int64) MilliCPU { return MilliCPU(n * 1000) }

// VCPUs returns the number of whole vCPUs, rounded up.
func (c MilliCPU) VCPUs() int64 { return (int64(c) + 999) / 1000 }

// String renders "2", "0.5" or "1.25".
func (c MilliCPU) String() string {
	return strconv.FormatFloat(float64(c)/1000, 'f', -1, 64)
}

// Bytes is an amount of memory or disk.
type Bytes int64

// Binary units.
const (
	KiB Bytes = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
)

// String renders the amount with the largest binary unit that keeps it exact
// to two decimals, such as "512MiB" or "1.5GiB".
func (b Bytes) String() string {
	units := []struct {
		size Bytes
		name string
	}{{PiB, "PiB"}, {TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}}
	abs := b
	if abs < 0 {
		abs = -abs
	}
	for _, u := range units {
		if abs >= u.size {
			v := strconv.FormatFloat(float64(b)/float64(u.size), 'f', 2, 64)
			v = strings.TrimRight(strings.TrimRight(v, "0"), ".")
			return v + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// ParseBytes parses "512MiB", "10GiB", "1.5G", "100M", "4096" (bytes) and the
// like. Units K, M, G, T, P with or without "i" and "B" are binary (powers of
// 1024), as memory and disks are sized on every hypervisor.
func ParseBytes(s string) (Bytes, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("%w: empty size", ErrInvalid)
	}
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToUpper(strings.TrimSpace(t[i:]))
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I")
	mult := map[string]Bytes{"": 1, "K": KiB, "M": MiB, "G": GiB, "T": TiB, "P": PiB}[unit]
	if mult == 0 && unit != "" {
		return 0, fmt.Errorf("%w: unknown size unit in %q", ErrInvalid, s)
	}
	if strings.ToUpper(strings.TrimSpace(t[i:])) == "I" {
		return 0, fmt.Errorf("%w: unknown size unit in %q", ErrInvalid, s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%w: %q is not a size", ErrInvalid, s)
	}
	v := f * float64(mult)
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("%w: size %q is too large", ErrInvalid, s)
	}
	return Bytes(math.Round(v)), nil
}

// Resources is an amount of CPU, memory and disk: a capacity, an allocation
// or a demand.
type Resources struct {
	CPU    MilliCPU `json:"cpuMilli"`
	Memory Bytes    `json:"memoryBytes"`
	Disk   Bytes    `json:"diskBytes"`
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPU: r.CPU + o.CPU, Memory: r.Memory + o.Memory, Disk: r.Disk + o.Disk}
}

// Sub returns r - o. Components may become negative.
func (r Resources) Sub(o Resources) Resources {
	return Resources{CPU: r.CPU - o.CPU, Memory: r.Memory - o.Memory, Disk: r.Disk - o.Disk}
}

// Mul returns r scaled by n.
func (r Resources) Mul(n int64) Resources {
	return Resources{CPU: r.CPU * MilliCPU(n), Memory: r.Memory * Bytes(n), Disk: r.Disk * Bytes(n)}
}

// Fits reports whether every component of r is at most the same component of c.
func (r Resources) Fits(c Resources) bool {
	return r.CPU <= c.CPU && r.Memory <= c.Memory && r.Disk <= c.Disk
}

// IsZero reports whether every component is zero.
func (r Resources) IsZero() bool { return r == Resources{} }

// Negative reports whether any component is below zero.
func (r Resources) Negative() bool { return r.CPU < 0 || r.Memory < 0 || r.Disk < 0 }

// Max returns the component-wise maximum of r and o.
func (r Resources) Max(o Resources) Resources {
	return Resources{CPU: max(r.CPU, o.CPU), Memory: max(r.Memory, o.Memory), Disk: max(r.Disk, o.Disk)}
}

// Short returns the first component of r that exceeds c, as "cpu", "memory"
// or "disk", with what is needed and what is there; "" when r fits in c.
func (r Resources) Short(c Resources) string {
	switch {
	case r.CPU > c.CPU:
		return fmt.Sprintf("cpu: need %s vCPU, %s vCPU free", r.CPU, c.CPU)
	case r.Memory > c.Memory:
		return fmt.Sprintf("memory: need %s, %s free", r.Memory, c.Memory)
	case r.Disk > c.Disk:
		return fmt.Sprintf("disk: need %s, %s free", r.Disk, c.Disk)
	}
	return ""
}

// String renders "cpu=2 memory=4GiB disk=20GiB".
func (r Resources) String() string {
	return fmt.Sprintf("cpu=%s memory=%s disk=%s", r.CPU, r.Memory, r.Disk)
}

// Overcommit holds the ratios by which a host's physical capacity may be
// promised: 4 means four times the physical CPU may be allocated. A zero
// ratio means 1 (no overcommit).
type Overcommit struct {
	CPU    float64 `json:"cpu,omitempty"`
	Memory float64 `json:"memory,omitempty"`
	Disk   float64 `json:"disk,omitempty"`
}

// Apply returns the allocatable capacity of a host with physical capacity c.
func (o Overcommit) Apply(c Resources) Resources {
	scale := func(v int64, ratio float64) int64 {
		if ratio <= 0 {
			return v
		}
		return int64(math.Floor(float64(v) * ratio))
	}
	return Resources{
		CPU:    MilliCPU(scale(int64(c.CPU), o.CPU)),
		Memory: Bytes(scale(int64(c.Memory), o.Memory)),
		Disk:   Bytes(scale(int64(c.Disk), o.Disk)),
	}
}

// Validate checks that every ratio is zero (meaning 1) or between 1 and 64.
func (o Overcommit) Validate() error {
	var f Fields
	for _, r := range []struct {
		name string
		v    float64
	}{{"cpu", o.CPU}, {"memory", o.Memory}, {"disk", o.Disk}} {
		if r.v != 0 && (r.v < 1 || r.v > 64 || math.IsNaN(r.v)) {
			f.Add(r.name, "must be between 1 and 64 (0 means 1)")
		}
	}
	return f.Err("invalid overcommit ratios")
}
