package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/openovm/ovm/ovm"
)

// maxEventBytes bounds one Server-Sent Event (a task with its log).
const maxEventBytes = 4 << 20

// WatchTask follows a task until it is final and returns its final state.
// fn, when not nil, is called with the task each time it changes (first
// with its state when the watch starts). WatchTask reads the task's
// Server-Sent Events stream; when the stream cannot be opened or ends
// before the task is final (a proxy that buffers, a restarted replica), it
// polls every PollInterval instead. It stops with ctx.
//
// A task that ends failed or rolled back is not an error of WatchTask: look
// at the returned task's State and Error.
func (c *Client) WatchTask(ctx context.Context, id ovm.ID, fn func(ovm.Task)) (ovm.Task, error) {
	var last ovm.Task
	seen := false
	emit := func(t ovm.Task) {
		if seen && sameTask(last, t) {
			return
		}
		last, seen = t, true
		if fn != nil {
			fn(t)
		}
	}
	t, err := c.streamTask(ctx, id, emit)
	if err == nil && t.State.Final() {
		return t, nil
	}
	if err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Status < 500 {
			// The server answered: the task does not exist or is not ours.
			return ovm.Task{}, err
		}
		if ctx.Err() != nil {
			return last, fmt.Errorf("watch task %s: %w", id, ctx.Err())
		}
	}
	return c.pollTask(ctx, id, emit)
}

// sameTask reports whether b shows nothing new since a.
func sameTask(a, b ovm.Task) bool {
	return a.State == b.State && a.Progress == b.Progress && a.UpdatedAt.Equal(b.UpdatedAt) &&
		len(a.Log) == len(b.Log) && stepsEqual(a.Steps, b.Steps)
}

func stepsEqual(a, b []ovm.TaskStep) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// streamTask reads the task's event stream until a final state or the end
// of the stream; it returns the last task seen.
func (c *Client) streamTask(ctx context.Context, id ovm.ID, emit func(ovm.Task)) (ovm.Task, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, Request{Method: http.MethodGet, Path: "/v1/tasks/" + string(id) + "/events", Accept: "text/event-stream"})
	if err != nil {
		return ovm.Task{}, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return ovm.Task{}, fmt.Errorf("watch task %s: %w", id, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
		return ovm.Task{}, problemOf(res.StatusCode, res.Header, b)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/event-stream" {
		return ovm.Task{}, fmt.Errorf("watch task %s: the server answered %q, not an event stream", id, mt)
	}
	var last ovm.Task
	err = readEvents(res.Body, func(event string, data []byte) error {
		if event != "" && event != "task" {
			return nil
		}
		var t ovm.Task
		if err := json.Unmarshal(data, &t); err != nil {
			return fmt.Errorf("watch task %s: decode event: %w", id, err)
		}
		last = t
		emit(t)
		if t.State.Final() {
			return io.EOF
		}
		return nil
	})
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return last, err
}

// readEvents parses a Server-Sent Events stream and calls fn with each
// event's type and data, until the stream ends or fn returns an error.
func readEvents(r io.Reader, fn func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEventBytes)
	var event string
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if data.Len() > 0 {
				if err := fn(event, bytes.TrimSuffix(data.Bytes(), []byte("\n"))); err != nil {
					return err
				}
			}
			event = ""
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue // a comment, such as a keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			data.Write(value)
			data.WriteByte('\n')
		}
	}
	return sc.Err()
}

// pollTask reads the task every PollInterval until it is final.
func (c *Client) pollTask(ctx context.Context, id ovm.ID, emit func(ovm.Task)) (ovm.Task, error) {
	every := c.PollInterval
	if every <= 0 {
		every = DefaultPollInterval
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ovm.Task{}, fmt.Errorf("watch task %s: %w", id, ctx.Err())
		case <-timer.C:
		}
		t, err := c.GetTask(ctx, id)
		if err != nil {
			return ovm.Task{}, err
		}
		emit(t)
		if t.State.Final() {
			return t, nil
		}
		timer.Reset(every)
	}
}
