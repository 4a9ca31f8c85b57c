// Package examples holds runnable programs that use OVM's SDK packages.
package examples
