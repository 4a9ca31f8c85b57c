//go:build unix

package convert

import (
	"io/fs"
	"syscall"
)

// inode returns a file's device and inode numbers and its link count.
func inode(info fs.FileInfo) ([2]uint64, uint64, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]uint64{}, 0, false
	}
	return [2]uint64{uint64(st.Dev), st.Ino}, uint64(st.Nlink), true
}
