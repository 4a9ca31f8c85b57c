// Package api is the reference server's REST API: huma v2 routes over
// package core on net/http, with the OpenAPI 3.1 document at /openapi.json
// and a docs page at /docs.
//
// Every error is an RFC 9457 problem (huma's ErrorModel) whose errors[]
// names each invalid field; one table (statusTable) maps the error kinds of
// package ovm to HTTP status, and anything without a kind is a 500 whose
// only text is "internal error" (the detail is logged with the request id,
// never sent). GETs of single objects carry an ETag (the record's version);
// PATCH, PUT and DELETE honour If-Match (a mismatch is 412). Lists are
// paginated with ?cursor=&limit=, the next cursor in the body's "next" and a
// Link header. Creates honour an Idempotency-Key header. Changes on
// hypervisors answer 202 with the task, whose progress streams as
// Server-Sent Events from /v1/tasks/{id}/events. The two interactive
// routes are the exception: POST /v1/instances/{id}/exec runs a command in a
// container and GET /v1/instances/{id}/console streams an instance's console
// (text/plain, or Server-Sent Events with Accept: text/event-stream), both
// direct, bounded calls to the host's driver, since they change nothing the
// platform records.
//
// Every route needs "Authorization: Bearer <token>" except POST /v1/login,
// /healthz, /readyz, /openapi.json and /docs; /metrics needs an
// administrator's (Metrics.Handler serves them without a token on an
// address of their own). Failed logins are throttled per user name and per
// client address (429 with Retry-After). Every answer says
// X-Content-Type-Options: nosniff; those of the authentication routes
// Cache-Control: no-store. A tenant's problems never name a host.
//
// # Tenancy in the API
//
// package core enforces tenancy; the API only carries the principal. The
// rule a client sees: a tenant naming another VDC's object, or any host,
// pool, datacenter or discovered object, by id (in the path, or as vdcId)
// gets 404, exactly as for an id that does not exist; an admin-only route
// that names no object (GET /v1/hosts, POST /v1/vdcs) is 403 for tenants.
package api
