//go:build integration && race

package portal_test

// bigList is the number of instances of the larger list the first-load
// test measures: smaller under the race detector, which slows the
// thousands of creates that fill it tenfold.
const bigList = 1000
