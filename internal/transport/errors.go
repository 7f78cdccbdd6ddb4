package transport

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xmpp-invites/invites/plugin"
)

// Errors of the data path, returned by DataPath.Exchange before anything is written.
var (
	// ErrBodyTooLarge means the request body exceeds DataOptions.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrRequestBody means reading the request body failed (the client went away, or a
	// limit of the host's own server cut it); it wraps the reader's error.
	ErrRequestBody = errors.New("cannot read the request body")
)

// errorDomain is the ErrorInfo domain of the contract's errors on the wire.
const errorDomain = "invites"

// This file is the one place where the contract's errors meet the wire: each crosses
// by a name (the reason of a google.rpc.ErrorInfo on a gRPC status), with its text.

// errorName returns the wire name of the contract error err wraps, or "".
func errorName(err error) string {
	switch {
	case errors.Is(err, plugin.ErrInviteNotFound):
		return "INVITE_NOT_FOUND"
	case errors.Is(err, plugin.ErrInviteExpired):
		return "INVITE_EXPIRED"
	case errors.Is(err, plugin.ErrUsernameNotAllowed):
		return "USERNAME_NOT_ALLOWED"
	case errors.Is(err, plugin.ErrInvalidUsername):
		return "INVALID_USERNAME"
	case errors.Is(err, plugin.ErrAccountExists):
		return "ACCOUNT_EXISTS"
	case errors.Is(err, plugin.ErrInvalidPassword):
		return "INVALID_PASSWORD"
	case errors.Is(err, plugin.ErrUnavailable):
		return "UNAVAILABLE"
	}
	return ""
}

// errorByName returns the contract error named name, or nil.
func errorByName(name string) error {
	switch name {
	case "INVITE_NOT_FOUND":
		return plugin.ErrInviteNotFound
	case "INVITE_EXPIRED":
		return plugin.ErrInviteExpired
	case "USERNAME_NOT_ALLOWED":
		return plugin.ErrUsernameNotAllowed
	case "INVALID_USERNAME":
		return plugin.ErrInvalidUsername
	case "ACCOUNT_EXISTS":
		return plugin.ErrAccountExists
	case "INVALID_PASSWORD":
		return plugin.ErrInvalidPassword
	case "UNAVAILABLE":
		return plugin.ErrUnavailable
	}
	return nil
}

// toStatus turns the error of an implementation into the gRPC status that carries it:
// its text, and its name when it is one of the contract's errors.
func toStatus(err error) error {
	code := codes.Unknown
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, plugin.ErrUnavailable):
		code = codes.Unavailable
	}
	st := status.New(code, err.Error())
	if name := errorName(err); name != "" {
		if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: name, Domain: errorDomain}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// wireError is an error that crossed the boundary: its text as the other side wrote
// it, matching the contract error it was.
type wireError struct {
	is   error // a plugin.Err* value, or nil
	text string
}

// Error implements error.
func (e *wireError) Error() string { return e.text }

// Unwrap returns the contract error.
func (e *wireError) Unwrap() error { return e.is }

// fromStatus turns the failure of a call into the error the caller sees: the
// contract's error with the other side's text; ErrUnavailable when the other side is
// gone or did not answer in time, unless the caller itself gave up (then ctx's error).
// gRPC's own wording ("rpc error: code = …") never reaches the text.
func fromStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			if is := errorByName(info.GetReason()); is != nil {
				return &wireError{is: is, text: st.Message()}
			}
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled:
		return fmt.Errorf("%w: the plugin is not running", plugin.ErrUnavailable)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: the plugin did not answer in time", plugin.ErrUnavailable)
	}
	return &wireError{text: st.Message()}
}
