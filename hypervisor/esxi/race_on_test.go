//go:build race

package esxi

// raceDetector is true when the tests run under the race detector.
const raceDetector = true
