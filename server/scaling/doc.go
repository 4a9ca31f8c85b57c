// Package scaling is the pure decision of a scaling group's size: one
// policy language for groups of VMs and of containers. Metric rules grow
// or shrink a group when its average of a metric has been beyond a
// threshold (outside a tolerance band, as Kubernetes' HPA) for a number
// of periods, with a cooldown; scheduled rules set the desired count at
// cron times, as OneFlow's. Decide reads a snapshot and returns the new
// desired count with its cause and the values that fired; it does no I/O,
// so a scaler can record every decision with its inputs.
package scaling
