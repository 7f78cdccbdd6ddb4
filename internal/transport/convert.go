package transport

import (
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	pb "github.com/xmpp-invites/invites/internal/transport/pluginv2"
	"github.com/xmpp-invites/invites/plugin"
)

// Conversions between the contract's Go values and their wire form.
// Tokens (form and field types, actions, statuses, note types, conditions, roles,
// purposes) cross as the strings they are: the side that uses them checks them with
// adhoc's rules (Request.Validate in adhoc.Server), once.

func configToProto(c plugin.Config, apiID uint32) *pb.ConfigureRequest {
	return &pb.ConfigureRequest{Domains: c.Domains, HttpBaseUrl: c.HTTPBaseURL, DataDir: c.DataDir,
		ConfigFile: c.ConfigFile, ConfigToml: c.ConfigTOML, HostApi: apiID}
}

func configFromProto(r *pb.ConfigureRequest) plugin.Config {
	return plugin.Config{Domains: r.GetDomains(), HTTPBaseURL: r.GetHttpBaseUrl(), DataDir: r.GetDataDir(),
		ConfigFile: r.GetConfigFile(), ConfigTOML: r.GetConfigToml()}
}

func inviteToProto(inv plugin.Invite) *pb.Invite {
	p := &pb.Invite{Id: inv.ID, Host: inv.Host, Kind: inv.Kind, Username: inv.Username,
		Inviter: inv.Inviter, Groups: inv.Groups, CanRegister: inv.CanRegister}
	if !inv.ExpiresAt.IsZero() {
		p.ExpiresAt = inv.ExpiresAt.UnixNano()
	}
	return p
}

func inviteFromProto(p *pb.Invite) plugin.Invite {
	inv := plugin.Invite{ID: p.GetId(), Host: p.GetHost(), Kind: p.GetKind(), Username: p.GetUsername(),
		Inviter: p.GetInviter(), Groups: p.GetGroups(), CanRegister: p.GetCanRegister()}
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
