// Package apitypes holds the request and response bodies of the OVM REST
// API, defined once: package api serves them (its OpenAPI schemas are
// generated from these types and their tags), package client sends and
// decodes them, and package core takes and returns them where its inputs
// and views are the API's. The package imports only package ovm and the
// standard library, so that a client of the API stays small.
//
// A create's IdempotencyKey is not part of its body: it travels as the
// Idempotency-Key header (the server copies it into the request it hands
// to core; the client sends it).
package apitypes
