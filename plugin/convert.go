package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/xmpp-invites/invites/adhoc"
	pb "github.com/xmpp-invites/invites/plugin/internal/pluginv3"
)

// Conversions between the contract's Go values and their wire form.
// Tokens (form and field types, actions, statuses, note types, conditions, roles,
// purposes) cross as the strings they are: the side that uses them checks them with
// adhoc's rules (Request.Validate in adhoc.Server), once.

func manifestToProto(m Manifest) *pb.ConfigureResponse {
	out := &pb.ConfigureResponse{Routes: make([]*pb.Route, len(m.Routes))}
	for i, r := range m.Routes {
		out.Routes[i] = &pb.Route{Path: r.Path, MaxBodyBytes: r.MaxBodyBytes}
	}
	return out
}

func manifestFromProto(p *pb.ConfigureResponse) Manifest {
	var m Manifest
	for _, r := range p.GetRoutes() {
		m.Routes = append(m.Routes, Route{Path: r.GetPath(), MaxBodyBytes: r.GetMaxBodyBytes()})
	}
	return m
}

func configToProto(c Config, apiID uint32) *pb.ConfigureRequest {
	p := &pb.ConfigureRequest{Domains: c.Domains, HttpBaseUrl: c.HTTPBaseURL, DataDir: c.DataDir,
		ConfigFile: c.ConfigFile, ConfigToml: c.ConfigTOML, HostApi: apiID}
	for _, f := range c.Features {
		p.Features = append(p.Features, string(f))
	}
	return p
}

func configFromProto(r *pb.ConfigureRequest) Config {
	c := Config{Domains: r.GetDomains(), HTTPBaseURL: r.GetHttpBaseUrl(), DataDir: r.GetDataDir(),
		ConfigFile: r.GetConfigFile(), ConfigTOML: r.GetConfigToml()}
	for _, f := range r.GetFeatures() {
		c.Features = append(c.Features, Feature(f))
	}
	return c
}

func eventsToProto(events []Event) *pb.NotifyRequest {
	p := &pb.NotifyRequest{Events: make([]*pb.Event, len(events))}
	for i, e := range events {
		pe := &pb.Event{Id: e.ID, Type: string(e.Type), Host: e.Host, Jid: e.JID, Lang: e.Lang}
		if !e.At.IsZero() {
			pe.At = e.At.UnixNano()
		}
		p.Events[i] = pe
	}
	return p
}

func eventsFromProto(p *pb.NotifyRequest) []Event {
	out := make([]Event, len(p.GetEvents()))
	for i, pe := range p.GetEvents() {
		e := Event{ID: pe.GetId(), Type: EventType(pe.GetType()), Host: pe.GetHost(), JID: pe.GetJid(), Lang: pe.GetLang()}
		if ns := pe.GetAt(); ns != 0 {
			e.At = time.Unix(0, ns).UTC()
		}
		out[i] = e
	}
	return out
}

func inviteToProto(inv Invite) *pb.Invite {
	p := &pb.Invite{Id: inv.ID, Host: inv.Host, Kind: inv.Kind, Username: inv.Username,
		Inviter: inv.Inviter, Groups: inv.Groups, CanRegister: inv.CanRegister, Approval: inv.Approval}
	if !inv.ExpiresAt.IsZero() {
		p.ExpiresAt = inv.ExpiresAt.UnixNano()
	}
	return p
}

func inviteFromProto(p *pb.Invite) Invite {
	inv := Invite{ID: p.GetId(), Host: p.GetHost(), Kind: p.GetKind(), Username: p.GetUsername(),
		Inviter: p.GetInviter(), Groups: p.GetGroups(), CanRegister: p.GetCanRegister(), Approval: p.GetApproval()}
	if ns := p.GetExpiresAt(); ns != 0 {
		inv.ExpiresAt = time.Unix(0, ns).UTC()
	}
	return inv
}

func fieldsToProto(fs []adhoc.Field) []*pb.Field {
	if len(fs) == 0 {
		return nil
	}
	out := make([]*pb.Field, len(fs))
	for i, f := range fs {
		p := &pb.Field{Var: f.Var, Type: string(f.Type), Label: f.Label, Desc: f.Desc,
			Required: f.Required, Values: f.Values}
		for _, o := range f.Options {
			p.Options = append(p.Options, &pb.Option{Label: o.Label, Value: o.Value})
		}
		out[i] = p
	}
	return out
}

func fieldsFromProto(ps []*pb.Field) []adhoc.Field {
	if len(ps) == 0 {
		return nil
	}
	out := make([]adhoc.Field, len(ps))
	for i, p := range ps {
		f := adhoc.Field{Var: p.GetVar(), Type: adhoc.FieldType(p.GetType()), Label: p.GetLabel(),
			Desc: p.GetDesc(), Required: p.GetRequired(), Values: p.GetValues()}
		for _, o := range p.GetOptions() {
			f.Options = append(f.Options, adhoc.Option{Label: o.GetLabel(), Value: o.GetValue()})
		}
		out[i] = f
	}
	return out
}

func formToProto(f *adhoc.Form) *pb.Form {
	if f == nil {
		return nil
	}
	p := &pb.Form{Type: string(f.Type), Title: f.Title, Instructions: f.Instructions,
		Fields: fieldsToProto(f.Fields), Reported: fieldsToProto(f.Reported)}
	for _, row := range f.Items {
		p.Items = append(p.Items, &pb.Row{Fields: fieldsToProto(row)})
	}
	return p
}

func formFromProto(p *pb.Form) *adhoc.Form {
	if p == nil {
		return nil
	}
	f := &adhoc.Form{Type: adhoc.FormType(p.GetType()), Title: p.GetTitle(), Instructions: p.GetInstructions(),
		Fields: fieldsFromProto(p.GetFields()), Reported: fieldsFromProto(p.GetReported())}
	for _, row := range p.GetItems() {
		f.Items = append(f.Items, fieldsFromProto(row.GetFields()))
	}
	return f
}

func executeRequestToProto(host string, r adhoc.Request) *pb.ExecuteRequest {
	return &pb.ExecuteRequest{Host: host, Requester: r.Requester, Role: string(r.Role), Node: r.Node,
		SessionId: r.SessionID, Action: string(r.Action), Lang: r.Lang, Form: formToProto(r.Form)}
}

func executeRequestFromProto(p *pb.ExecuteRequest) (string, adhoc.Request) {
	return p.GetHost(), adhoc.Request{Requester: p.GetRequester(), Role: adhoc.Role(p.GetRole()),
		Node: p.GetNode(), SessionID: p.GetSessionId(), Action: adhoc.Action(p.GetAction()),
		Lang: p.GetLang(), Form: formFromProto(p.GetForm())}
}

func executeResponseToProto(r adhoc.Response) *pb.ExecuteResponse {
	p := &pb.ExecuteResponse{Node: r.Node, SessionId: r.SessionID, Status: string(r.Status),
		DefaultAction: string(r.DefaultAction), Form: formToProto(r.Form)}
	for _, a := range r.Actions {
		p.Actions = append(p.Actions, string(a))
	}
	for _, n := range r.Notes {
		p.Notes = append(p.Notes, &pb.Note{Type: string(n.Type), Text: n.Text})
	}
	return p
}

// executeResponseFromProto returns the response, or the *adhoc.Error it carries.
func executeResponseFromProto(p *pb.ExecuteResponse) (adhoc.Response, error) {
	if c := p.GetCondition(); c != "" {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.Condition(c), Text: p.GetText()}
	}
	r := adhoc.Response{Node: p.GetNode(), SessionID: p.GetSessionId(), Status: adhoc.Status(p.GetStatus()),
		DefaultAction: adhoc.Action(p.GetDefaultAction()), Form: formFromProto(p.GetForm())}
	for _, a := range p.GetActions() {
		r.Actions = append(r.Actions, adhoc.Action(a))
	}
	for _, n := range p.GetNotes() {
		r.Notes = append(r.Notes, adhoc.Note{Type: adhoc.NoteType(n.GetType()), Text: n.GetText()})
	}
	return r, nil
}

// The contract's errors meet the wire here and only here: each crosses by a name (the
// reason of a google.rpc.ErrorInfo on a gRPC status), with its text; a *PasswordError
// crosses whole, as a PasswordRefusal detail.

// errorDomain is the ErrorInfo domain of the contract's errors on the wire.
const errorDomain = "invites"

// errorName returns the wire name of the contract error err wraps, or "".
func errorName(err error) string {
	switch {
	case errors.Is(err, ErrInviteNotFound):
		return "INVITE_NOT_FOUND"
	case errors.Is(err, ErrInviteExpired):
		return "INVITE_EXPIRED"
	case errors.Is(err, ErrUsernameNotAllowed):
		return "USERNAME_NOT_ALLOWED"
	case errors.Is(err, ErrInvalidUsername):
		return "INVALID_USERNAME"
	case errors.Is(err, ErrAccountExists):
		return "ACCOUNT_EXISTS"
	case errors.Is(err, ErrInvalidPassword):
		return "INVALID_PASSWORD"
	case errors.Is(err, ErrUnavailable):
		return "UNAVAILABLE"
	}
	return ""
}

// errorByName returns the contract error named name, or nil.
func errorByName(name string) error {
	switch name {
	case "INVITE_NOT_FOUND":
		return ErrInviteNotFound
	case "INVITE_EXPIRED":
		return ErrInviteExpired
	case "USERNAME_NOT_ALLOWED":
		return ErrUsernameNotAllowed
	case "INVALID_USERNAME":
		return ErrInvalidUsername
	case "ACCOUNT_EXISTS":
		return ErrAccountExists
	case "INVALID_PASSWORD":
		return ErrInvalidPassword
	case "UNAVAILABLE":
		return ErrUnavailable
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
	case errors.Is(err, ErrUnavailable):
		code = codes.Unavailable
	case errors.Is(err, errors.ErrUnsupported):
		code = codes.Unimplemented
	}
	st := status.New(code, err.Error())
	var details []protoadapt.MessageV1
	if name := errorName(err); name != "" {
		details = append(details, &errdetails.ErrorInfo{Reason: name, Domain: errorDomain})
	}
	if pe, ok := errors.AsType[*PasswordError](err); ok {
		details = append(details, &pb.PasswordRefusal{Rules: pe.Rules, Reason: pe.Reason})
	}
	if len(details) > 0 {
		if d, derr := st.WithDetails(details...); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// wireError is an error that crossed the boundary: its text as the other side wrote
// it, matching the contract error it was.
type wireError struct {
	is   error // a Err* value, or nil
	text string
}

// Error implements error.
func (e *wireError) Error() string { return e.text }

// Unwrap returns the contract error.
func (e *wireError) Unwrap() error { return e.is }

// fromStatus turns the failure of a call into the error the caller sees: the
// contract's error with the other side's text (a *PasswordError whole);
// errors.ErrUnsupported for a method the other side does not serve; ErrUnavailable
// when the other side is gone or did not answer in time, unless the caller itself
// gave up (then ctx's error).
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
		if pr, ok := d.(*pb.PasswordRefusal); ok {
			return &PasswordError{Rules: pr.GetRules(), Reason: pr.GetReason()}
		}
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			if is := errorByName(info.GetReason()); is != nil {
				return &wireError{is: is, text: st.Message()}
			}
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled:
		return fmt.Errorf("%w: the plugin is not running", ErrUnavailable)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: the plugin did not answer in time", ErrUnavailable)
	case codes.Unimplemented:
		// The other side lacks the method: an optional host interface, or an older
		// build of the same protocol version.
		return &wireError{is: errors.ErrUnsupported, text: st.Message()}
	}
	return &wireError{text: st.Message()}
}
