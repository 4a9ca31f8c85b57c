//go:build integration && !race

package portal_test

// bigList is the number of instances of the larger list the first-load
// test measures.
const bigList = 5000
