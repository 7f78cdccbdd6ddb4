package plugin

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	pb "github.com/xmpp-invites/invites/plugin/internal/pluginv1"
)

// Conversions between the contract's Go types and their wire form.
// Enums are mapped with switches, both ways, so that a value unknown to one side is
// noticed instead of passed on.

func configToProto(c Config, apiID uint32) *pb.ConfigureRequest {
	return &pb.ConfigureRequest{
		Domains:     c.Domains,
		HttpBaseUrl: c.HTTPBaseURL,
		DataDir:     c.DataDir,
		ConfigFile:  c.ConfigFile,
		ConfigToml:  c.ConfigTOML,
		HostApi:     apiID,
	}
}

func configFromProto(r *pb.ConfigureRequest) Config {
	return Config{
		Domains:     r.GetDomains(),
		HTTPBaseURL: r.GetHttpBaseUrl(),
		DataDir:     r.GetDataDir(),
		ConfigFile:  r.GetConfigFile(),
		ConfigTOML:  r.GetConfigToml(),
	}
}

// Redemption.

func inviteToProto(inv Invite) *pb.Invite {
	p := &pb.Invite{
		Id:          inv.ID,
		Host:        inv.Host,
		Kind:        inv.Kind,
		Username:    inv.Username,
		Inviter:     inv.Inviter,
		CanRegister: inv.CanRegister,
	}
	if !inv.ExpiresAt.IsZero() {
		p.ExpiresAt = inv.ExpiresAt.UnixNano()
	}
	return p
}

func inviteFromProto(p *pb.Invite) Invite {
	inv := Invite{
		ID:          p.GetId(),
		Host:        p.GetHost(),
		Kind:        p.GetKind(),
		Username:    p.GetUsername(),
		Inviter:     p.GetInviter(),
		CanRegister: p.GetCanRegister(),
	}
	if ns := p.GetExpiresAt(); ns != 0 {
		inv.ExpiresAt = time.Unix(0, ns).UTC()
	}
	return inv
}

// inviteErrorToProto maps a redemption error to its enum; ok is false for an error that
// is none of the sentinels.
func inviteErrorToProto(err error) (code pb.InviteError, ok bool) {
	switch {
	case errors.Is(err, ErrInviteNotFound):
		return pb.InviteError_INVITE_ERROR_NOT_FOUND, true
	case errors.Is(err, ErrInviteExpired):
		return pb.InviteError_INVITE_ERROR_EXPIRED, true
	case errors.Is(err, ErrUsernameNotAllowed):
		return pb.InviteError_INVITE_ERROR_USERNAME_NOT_ALLOWED, true
	case errors.Is(err, ErrInvalidUsername):
		return pb.InviteError_INVITE_ERROR_INVALID_USERNAME, true
	case errors.Is(err, ErrUnavailable):
		return pb.InviteError_INVITE_ERROR_UNAVAILABLE, true
	}
	return pb.InviteError_INVITE_ERROR_UNSPECIFIED, false
}

// inviteErrorFromProto returns the sentinel for code, wrapped with text when the plugin
// said more; nil for no error.
func inviteErrorFromProto(code pb.InviteError, text string) error {
	var sentinel error
	switch code {
	case pb.InviteError_INVITE_ERROR_UNSPECIFIED:
		return nil
	case pb.InviteError_INVITE_ERROR_NOT_FOUND:
		sentinel = ErrInviteNotFound
	case pb.InviteError_INVITE_ERROR_EXPIRED:
		sentinel = ErrInviteExpired
	case pb.InviteError_INVITE_ERROR_USERNAME_NOT_ALLOWED:
		sentinel = ErrUsernameNotAllowed
	case pb.InviteError_INVITE_ERROR_INVALID_USERNAME:
		sentinel = ErrInvalidUsername
	case pb.InviteError_INVITE_ERROR_UNAVAILABLE:
		sentinel = ErrUnavailable
	default:
		return fmt.Errorf("plugin: unknown invite error %d: %s", code, text)
	}
	if text == "" || text == sentinel.Error() {
		return sentinel
	}
	return fmt.Errorf("%w (%s)", sentinel, text)
}

// Ad-hoc commands.

func commandsToProto(cmds []adhoc.Command) []*pb.Command {
	out := make([]*pb.Command, len(cmds))
	for i, c := range cmds {
		out[i] = &pb.Command{Node: c.Node, Name: c.Name}
	}
	return out
}

func commandsFromProto(cmds []*pb.Command) []adhoc.Command {
	if len(cmds) == 0 {
		return nil
	}
	out := make([]adhoc.Command, len(cmds))
	for i, c := range cmds {
		out[i] = adhoc.Command{Node: c.GetNode(), Name: c.GetName()}
	}
	return out
}

func actionToProto(a adhoc.Action) (pb.Action, bool) {
	switch a {
	case "":
		return pb.Action_ACTION_UNSPECIFIED, true
	case adhoc.ActionExecute:
		return pb.Action_ACTION_EXECUTE, true
	case adhoc.ActionNext:
		return pb.Action_ACTION_NEXT, true
	case adhoc.ActionPrev:
		return pb.Action_ACTION_PREV, true
	case adhoc.ActionComplete:
		return pb.Action_ACTION_COMPLETE, true
	case adhoc.ActionCancel:
		return pb.Action_ACTION_CANCEL, true
	}
	return pb.Action_ACTION_UNSPECIFIED, false
}

func actionFromProto(a pb.Action) (adhoc.Action, bool) {
	switch a {
	case pb.Action_ACTION_UNSPECIFIED:
		return "", true
	case pb.Action_ACTION_EXECUTE:
		return adhoc.ActionExecute, true
	case pb.Action_ACTION_NEXT:
		return adhoc.ActionNext, true
	case pb.Action_ACTION_PREV:
		return adhoc.ActionPrev, true
	case pb.Action_ACTION_COMPLETE:
		return adhoc.ActionComplete, true
	case pb.Action_ACTION_CANCEL:
		return adhoc.ActionCancel, true
	}
	return "", false
}

func actionsToProto(as []adhoc.Action) ([]pb.Action, error) {
	if len(as) == 0 {
		return nil, nil
	}
	out := make([]pb.Action, len(as))
	for i, a := range as {
		p, ok := actionToProto(a)
		if !ok || p == pb.Action_ACTION_UNSPECIFIED {
			return nil, fmt.Errorf("plugin: unknown ad-hoc action %q", a)
		}
		out[i] = p
	}
	return out, nil
}

func actionsFromProto(as []pb.Action) ([]adhoc.Action, error) {
	if len(as) == 0 {
		return nil, nil
	}
	out := make([]adhoc.Action, len(as))
	for i, p := range as {
		a, ok := actionFromProto(p)
		if !ok || a == "" {
			return nil, fmt.Errorf("plugin: unknown ad-hoc action %d", p)
		}
		out[i] = a
	}
	return out, nil
}

func statusToProto(s adhoc.Status) (pb.Status, bool) {
	switch s {
	case "":
		return pb.Status_STATUS_UNSPECIFIED, true
	case adhoc.StatusExecuting:
		return pb.Status_STATUS_EXECUTING, true
	case adhoc.StatusCompleted:
		return pb.Status_STATUS_COMPLETED, true
	case adhoc.StatusCanceled:
		return pb.Status_STATUS_CANCELED, true
	}
	return pb.Status_STATUS_UNSPECIFIED, false
}

func statusFromProto(s pb.Status) (adhoc.Status, bool) {
	switch s {
	case pb.Status_STATUS_UNSPECIFIED:
		return "", true
	case pb.Status_STATUS_EXECUTING:
		return adhoc.StatusExecuting, true
	case pb.Status_STATUS_COMPLETED:
		return adhoc.StatusCompleted, true
	case pb.Status_STATUS_CANCELED:
		return adhoc.StatusCanceled, true
	}
	return "", false
}

func noteTypeToProto(t adhoc.NoteType) (pb.NoteType, bool) {
	switch t {
	case "":
		return pb.NoteType_NOTE_TYPE_UNSPECIFIED, true
	case adhoc.NoteInfo:
		return pb.NoteType_NOTE_TYPE_INFO, true
	case adhoc.NoteWarn:
		return pb.NoteType_NOTE_TYPE_WARN, true
	case adhoc.NoteError:
		return pb.NoteType_NOTE_TYPE_ERROR, true
	}
	return pb.NoteType_NOTE_TYPE_UNSPECIFIED, false
}

func noteTypeFromProto(t pb.NoteType) (adhoc.NoteType, bool) {
	switch t {
	case pb.NoteType_NOTE_TYPE_UNSPECIFIED:
		return "", true
	case pb.NoteType_NOTE_TYPE_INFO:
		return adhoc.NoteInfo, true
	case pb.NoteType_NOTE_TYPE_WARN:
		return adhoc.NoteWarn, true
	case pb.NoteType_NOTE_TYPE_ERROR:
		return adhoc.NoteError, true
	}
	return "", false
}

func formTypeToProto(t adhoc.FormType) (pb.FormType, bool) {
	switch t {
	case "":
		return pb.FormType_FORM_TYPE_UNSPECIFIED, true
	case adhoc.FormForm:
		return pb.FormType_FORM_TYPE_FORM, true
	case adhoc.FormSubmit:
		return pb.FormType_FORM_TYPE_SUBMIT, true
	case adhoc.FormCancel:
		return pb.FormType_FORM_TYPE_CANCEL, true
	case adhoc.FormResult:
		return pb.FormType_FORM_TYPE_RESULT, true
	}
	return pb.FormType_FORM_TYPE_UNSPECIFIED, false
}

func formTypeFromProto(t pb.FormType) (adhoc.FormType, bool) {
	switch t {
	case pb.FormType_FORM_TYPE_UNSPECIFIED:
		return "", true
	case pb.FormType_FORM_TYPE_FORM:
		return adhoc.FormForm, true
	case pb.FormType_FORM_TYPE_SUBMIT:
		return adhoc.FormSubmit, true
	case pb.FormType_FORM_TYPE_CANCEL:
		return adhoc.FormCancel, true
	case pb.FormType_FORM_TYPE_RESULT:
		return adhoc.FormResult, true
	}
	return "", false
}

func fieldTypeToProto(t adhoc.FieldType) (pb.FieldType, bool) {
	switch t {
	case "":
		return pb.FieldType_FIELD_TYPE_UNSPECIFIED, true
	case adhoc.FieldBoolean:
		return pb.FieldType_FIELD_TYPE_BOOLEAN, true
	case adhoc.FieldFixed:
		return pb.FieldType_FIELD_TYPE_FIXED, true
	case adhoc.FieldHidden:
		return pb.FieldType_FIELD_TYPE_HIDDEN, true
	case adhoc.FieldJIDMulti:
		return pb.FieldType_FIELD_TYPE_JID_MULTI, true
	case adhoc.FieldJIDSingle:
		return pb.FieldType_FIELD_TYPE_JID_SINGLE, true
	case adhoc.FieldListMulti:
		return pb.FieldType_FIELD_TYPE_LIST_MULTI, true
	case adhoc.FieldListSingle:
		return pb.FieldType_FIELD_TYPE_LIST_SINGLE, true
	case adhoc.FieldTextMulti:
		return pb.FieldType_FIELD_TYPE_TEXT_MULTI, true
	case adhoc.FieldTextPrivate:
		return pb.FieldType_FIELD_TYPE_TEXT_PRIVATE, true
	case adhoc.FieldTextSingle:
		return pb.FieldType_FIELD_TYPE_TEXT_SINGLE, true
	}
	return pb.FieldType_FIELD_TYPE_UNSPECIFIED, false
}

func fieldTypeFromProto(t pb.FieldType) (adhoc.FieldType, bool) {
	switch t {
	case pb.FieldType_FIELD_TYPE_UNSPECIFIED:
		return "", true
	case pb.FieldType_FIELD_TYPE_BOOLEAN:
		return adhoc.FieldBoolean, true
	case pb.FieldType_FIELD_TYPE_FIXED:
		return adhoc.FieldFixed, true
	case pb.FieldType_FIELD_TYPE_HIDDEN:
		return adhoc.FieldHidden, true
	case pb.FieldType_FIELD_TYPE_JID_MULTI:
		return adhoc.FieldJIDMulti, true
	case pb.FieldType_FIELD_TYPE_JID_SINGLE:
		return adhoc.FieldJIDSingle, true
	case pb.FieldType_FIELD_TYPE_LIST_MULTI:
		return adhoc.FieldListMulti, true
	case pb.FieldType_FIELD_TYPE_LIST_SINGLE:
		return adhoc.FieldListSingle, true
	case pb.FieldType_FIELD_TYPE_TEXT_MULTI:
		return adhoc.FieldTextMulti, true
	case pb.FieldType_FIELD_TYPE_TEXT_PRIVATE:
		return adhoc.FieldTextPrivate, true
	case pb.FieldType_FIELD_TYPE_TEXT_SINGLE:
		return adhoc.FieldTextSingle, true
	}
	return "", false
}

func conditionToProto(c adhoc.Condition) pb.Condition {
	switch c {
	case adhoc.CondMalformedAction:
		return pb.Condition_CONDITION_MALFORMED_ACTION
	case adhoc.CondBadAction:
		return pb.Condition_CONDITION_BAD_ACTION
	case adhoc.CondBadLocale:
		return pb.Condition_CONDITION_BAD_LOCALE
	case adhoc.CondBadPayload:
		return pb.Condition_CONDITION_BAD_PAYLOAD
	case adhoc.CondBadSessionID:
		return pb.Condition_CONDITION_BAD_SESSIONID
	case adhoc.CondSessionExpired:
		return pb.Condition_CONDITION_SESSION_EXPIRED
	case adhoc.CondForbidden:
		return pb.Condition_CONDITION_FORBIDDEN
	case adhoc.CondItemNotFound:
		return pb.Condition_CONDITION_ITEM_NOT_FOUND
	case adhoc.CondNotAcceptable:
		return pb.Condition_CONDITION_NOT_ACCEPTABLE
	case adhoc.CondResourceConstraint:
		return pb.Condition_CONDITION_RESOURCE_CONSTRAINT
	case adhoc.CondServiceUnavailable:
		return pb.Condition_CONDITION_SERVICE_UNAVAILABLE
	}
	return pb.Condition_CONDITION_INTERNAL_SERVER_ERROR
}

func conditionFromProto(c pb.Condition) adhoc.Condition {
	switch c {
	case pb.Condition_CONDITION_MALFORMED_ACTION:
		return adhoc.CondMalformedAction
	case pb.Condition_CONDITION_BAD_ACTION:
		return adhoc.CondBadAction
	case pb.Condition_CONDITION_BAD_LOCALE:
		return adhoc.CondBadLocale
	case pb.Condition_CONDITION_BAD_PAYLOAD:
		return adhoc.CondBadPayload
	case pb.Condition_CONDITION_BAD_SESSIONID:
		return adhoc.CondBadSessionID
	case pb.Condition_CONDITION_SESSION_EXPIRED:
		return adhoc.CondSessionExpired
	case pb.Condition_CONDITION_FORBIDDEN:
		return adhoc.CondForbidden
	case pb.Condition_CONDITION_ITEM_NOT_FOUND:
		return adhoc.CondItemNotFound
	case pb.Condition_CONDITION_NOT_ACCEPTABLE:
		return adhoc.CondNotAcceptable
	case pb.Condition_CONDITION_RESOURCE_CONSTRAINT:
		return adhoc.CondResourceConstraint
	case pb.Condition_CONDITION_SERVICE_UNAVAILABLE:
		return adhoc.CondServiceUnavailable
	}
	return adhoc.CondInternalServerError
}

// fieldsToProto converts fields; an unknown field type is an error, so that a typo in
// a form is found by the side that made it.
func fieldsToProto(fs []adhoc.Field) ([]*pb.Field, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	out := make([]*pb.Field, len(fs))
	for i, f := range fs {
		t, ok := fieldTypeToProto(f.Type)
		if !ok {
			return nil, fmt.Errorf("plugin: field %q: unknown type %q", f.Var, f.Type)
		}
		p := &pb.Field{
			Var:      f.Var,
			Type:     t,
			Label:    f.Label,
			Desc:     f.Desc,
			Required: f.Required,
			Values:   f.Values,
		}
		if len(f.Options) > 0 {
			p.Options = make([]*pb.Option, len(f.Options))
			for j, o := range f.Options {
				p.Options[j] = &pb.Option{Label: o.Label, Value: o.Value}
			}
		}
		out[i] = p
	}
	return out, nil
}

func fieldsFromProto(ps []*pb.Field) ([]adhoc.Field, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]adhoc.Field, len(ps))
	for i, p := range ps {
		t, ok := fieldTypeFromProto(p.GetType())
		if !ok {
			return nil, fmt.Errorf("plugin: field %q: unknown type %d", p.GetVar(), p.GetType())
		}
		f := adhoc.Field{
			Var:      p.GetVar(),
			Type:     t,
			Label:    p.GetLabel(),
			Desc:     p.GetDesc(),
			Required: p.GetRequired(),
			Values:   p.GetValues(),
		}
		if opts := p.GetOptions(); len(opts) > 0 {
			f.Options = make([]adhoc.Option, len(opts))
			for j, o := range opts {
				f.Options[j] = adhoc.Option{Label: o.GetLabel(), Value: o.GetValue()}
			}
		}
		out[i] = f
	}
	return out, nil
}

func formToProto(f *adhoc.Form) (*pb.Form, error) {
	if f == nil {
		return nil, nil
	}
	t, ok := formTypeToProto(f.Type)
	if !ok {
		return nil, fmt.Errorf("plugin: unknown form type %q", f.Type)
	}
	p := &pb.Form{Type: t, Title: f.Title, Instructions: f.Instructions}
	var err error
	if p.Fields, err = fieldsToProto(f.Fields); err != nil {
		return nil, err
	}
	if p.Reported, err = fieldsToProto(f.Reported); err != nil {
		return nil, err
	}
	if len(f.Items) > 0 {
		p.Items = make([]*pb.Row, len(f.Items))
		for i, row := range f.Items {
			fs, err := fieldsToProto(row)
			if err != nil {
				return nil, err
			}
			p.Items[i] = &pb.Row{Fields: fs}
		}
	}
	return p, nil
}

func formFromProto(p *pb.Form) (*adhoc.Form, error) {
	if p == nil {
		return nil, nil
	}
	t, ok := formTypeFromProto(p.GetType())
	if !ok {
		return nil, fmt.Errorf("plugin: unknown form type %d", p.GetType())
	}
	f := &adhoc.Form{Type: t, Title: p.GetTitle(), Instructions: p.GetInstructions()}
	var err error
	if f.Fields, err = fieldsFromProto(p.GetFields()); err != nil {
		return nil, err
	}
	if f.Reported, err = fieldsFromProto(p.GetReported()); err != nil {
		return nil, err
	}
	if items := p.GetItems(); len(items) > 0 {
		f.Items = make([][]adhoc.Field, len(items))
		for i, row := range items {
			if f.Items[i], err = fieldsFromProto(row.GetFields()); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

func executeRequestToProto(host string, req adhoc.Request) (*pb.ExecuteRequest, error) {
	a, ok := actionToProto(req.Action)
	if !ok {
		return nil, &adhoc.Error{Condition: adhoc.CondMalformedAction, Text: fmt.Sprintf("unknown action %q", req.Action)}
	}
	f, err := formToProto(req.Form)
	if err != nil {
		return nil, &adhoc.Error{Condition: adhoc.CondBadPayload, Text: err.Error()}
	}
	return &pb.ExecuteRequest{
		Host:      host,
		Requester: req.Requester,
		Node:      req.Node,
		SessionId: req.SessionID,
		Action:    a,
		Lang:      req.Lang,
		Form:      f,
	}, nil
}

func executeRequestFromProto(p *pb.ExecuteRequest) (string, adhoc.Request, error) {
	a, ok := actionFromProto(p.GetAction())
	if !ok {
		return "", adhoc.Request{}, &adhoc.Error{Condition: adhoc.CondMalformedAction, Text: fmt.Sprintf("unknown action %d", p.GetAction())}
	}
	f, err := formFromProto(p.GetForm())
	if err != nil {
		return "", adhoc.Request{}, &adhoc.Error{Condition: adhoc.CondBadPayload, Text: err.Error()}
	}
	return p.GetHost(), adhoc.Request{
		Requester: p.GetRequester(),
		Node:      p.GetNode(),
		SessionID: p.GetSessionId(),
		Action:    a,
		Lang:      p.GetLang(),
		Form:      f,
	}, nil
}

func executeResponseToProto(r adhoc.Response) (*pb.ExecuteResponse, error) {
	st, ok := statusToProto(r.Status)
	if !ok {
		return nil, fmt.Errorf("plugin: unknown ad-hoc status %q", r.Status)
	}
	def, ok := actionToProto(r.DefaultAction)
	if !ok {
		return nil, fmt.Errorf("plugin: unknown ad-hoc action %q", r.DefaultAction)
	}
	acts, err := actionsToProto(r.Actions)
	if err != nil {
		return nil, err
	}
	f, err := formToProto(r.Form)
	if err != nil {
		return nil, err
	}
	p := &pb.ExecuteResponse{
		Node:          r.Node,
		SessionId:     r.SessionID,
		Status:        st,
		Actions:       acts,
		DefaultAction: def,
		Form:          f,
	}
	if len(r.Notes) > 0 {
		p.Notes = make([]*pb.Note, len(r.Notes))
		for i, n := range r.Notes {
			t, ok := noteTypeToProto(n.Type)
			if !ok {
				return nil, fmt.Errorf("plugin: unknown note type %q", n.Type)
			}
			p.Notes[i] = &pb.Note{Type: t, Text: n.Text}
		}
	}
	return p, nil
}

func executeResponseFromProto(p *pb.ExecuteResponse) (adhoc.Response, error) {
	if e := p.GetError(); e != nil {
		return adhoc.Response{}, &adhoc.Error{Condition: conditionFromProto(e.GetCondition()), Text: e.GetText()}
	}
	st, ok := statusFromProto(p.GetStatus())
	if !ok {
		return adhoc.Response{}, fmt.Errorf("plugin: unknown ad-hoc status %d", p.GetStatus())
	}
	def, ok := actionFromProto(p.GetDefaultAction())
	if !ok {
		return adhoc.Response{}, fmt.Errorf("plugin: unknown ad-hoc action %d", p.GetDefaultAction())
	}
	acts, err := actionsFromProto(p.GetActions())
	if err != nil {
		return adhoc.Response{}, err
	}
	f, err := formFromProto(p.GetForm())
	if err != nil {
		return adhoc.Response{}, err
	}
	r := adhoc.Response{
		Node:          p.GetNode(),
		SessionID:     p.GetSessionId(),
		Status:        st,
		Actions:       acts,
		DefaultAction: def,
		Form:          f,
	}
	if notes := p.GetNotes(); len(notes) > 0 {
		r.Notes = make([]adhoc.Note, len(notes))
		for i, n := range notes {
			t, ok := noteTypeFromProto(n.GetType())
			if !ok {
				return adhoc.Response{}, fmt.Errorf("plugin: unknown note type %d", n.GetType())
			}
			r.Notes[i] = adhoc.Note{Type: t, Text: n.GetText()}
		}
	}
	return r, nil
}

// Log attributes.

// attrsToProto flattens attrs, groups into dotted keys, resolving LogValuers.
func attrsToProto(attrs []slog.Attr) []*pb.Attr {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*pb.Attr, 0, len(attrs))
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		a.Value = a.Value.Resolve()
		key := a.Key
		if prefix != "" {
			key = prefix + "." + key
		}
		switch a.Value.Kind() {
		case slog.KindGroup:
			p := prefix
			if a.Key != "" {
				p = key
			}
			for _, g := range a.Value.Group() {
				add(p, g)
			}
			return
		case slog.KindString:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_String_{String_: a.Value.String()}})
		case slog.KindInt64:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_Int64{Int64: a.Value.Int64()}})
		case slog.KindUint64:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_Uint64{Uint64: a.Value.Uint64()}})
		case slog.KindFloat64:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_Float64{Float64: a.Value.Float64()}})
		case slog.KindBool:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_Bool{Bool: a.Value.Bool()}})
		case slog.KindDuration:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_Duration{Duration: int64(a.Value.Duration())}})
		case slog.KindTime:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_Time{Time: a.Value.Time().UnixNano()}})
		default:
			out = append(out, &pb.Attr{Key: key, Value: &pb.Attr_String_{String_: a.Value.String()}})
		}
	}
	for _, a := range attrs {
		add("", a)
	}
	return out
}

func attrsFromProto(ps []*pb.Attr) []slog.Attr {
	if len(ps) == 0 {
		return nil
	}
	out := make([]slog.Attr, len(ps))
	for i, p := range ps {
		k := p.GetKey()
		switch v := p.GetValue().(type) {
		case *pb.Attr_String_:
			out[i] = slog.String(k, v.String_)
		case *pb.Attr_Int64:
			out[i] = slog.Int64(k, v.Int64)
		case *pb.Attr_Uint64:
			out[i] = slog.Uint64(k, v.Uint64)
		case *pb.Attr_Float64:
			out[i] = slog.Float64(k, v.Float64)
		case *pb.Attr_Bool:
			out[i] = slog.Bool(k, v.Bool)
		case *pb.Attr_Duration:
			out[i] = slog.Duration(k, time.Duration(v.Duration))
		case *pb.Attr_Time:
			out[i] = slog.Time(k, time.Unix(0, v.Time).UTC())
		default:
			out[i] = slog.String(k, "")
		}
	}
	return out
}
