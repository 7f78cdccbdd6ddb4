#!/usr/bin/python3
"""Drives xmppd with slixmpp (Debian's python3-slixmpp), a client library the
project did not write, for the interop tests in interop_test.go.

Usage: interop.py SCENARIO PORT [ARGS...]; it prints one JSON object on stdout and
exits 0 when the scenario ran (the Go test judges the result), 1 on a failure it
could see, 2 on a usage error. Every scenario is bounded by TIMEOUT seconds.

Scenarios:
  commands USER PASSWORD          list the commands, run each through every stage,
                                  once answering with action=next (as poezio does)
                                  and once with action=complete
  keys USER PASSWORD              read keys#list from its single-item form
  pages USER PASSWORD             page through keys#list with next, as poezio does,
                                  sending each page's fields back
  delete-label USER PASSWORD PREFIX
                                  delete the key whose option label holds PREFIX
                                  by submitting the label (as Gajim does)
  whitespace USER PASSWORD        log in putting whitespace around everything sent
                                  (stream headers included) and run a command
  invite USER PASSWORD NEWUSER NEWPASSWORD
                                  USER makes a contact invite; NEWUSER registers with
                                  it (XEP-0445 pre-auth + XEP-0077); both rosters are
                                  read; NEWUSER sends USER a message
  correct USER PASSWORD           as poezio drives a command (slixmpp's command
                                  sessions, every form sent with next): a refused
                                  value comes back as the form again with the reason
                                  and what was sent, the corrected form completes;
                                  an IQ error in a session reaches the session's
                                  error handler (slixmpp drops it otherwise)
  form-invitation NEWUSER NEWPASSWORD INVITATION
                                  register NEWUSER through the XEP-0077 data form,
                                  as a client that shows the form does: first with
                                  an invitation that is none (the error is
                                  reported), then with INVITATION in the form's
                                  invitation field (a page URL, an xmpp: URI or a
                                  token) and no pre-auth IQ; NEWUSER "-" leaves
                                  the username empty; then log in
  invites USER PASSWORD NOTE      USER makes an account invite noted NOTE, reads
                                  "List invites" from its single-item form, revokes
                                  the invite by submitting its option's label (as
                                  Gajim does), and lists the revoked invites
  password-policy TOKEN USER LANG on a stream in LANG, pre-auth with TOKEN, then
                                  register USER with "12345678", eight spaces and a
                                  password holding the name (each refusal reported),
                                  then with a good password, and log in
  login-refused USER PASSWORD     log in; report the first SASL failure (condition,
                                  text)
  register-pending TOKEN USER PASSWORD
                                  pre-auth with TOKEN and register USER, then log in
                                  and report the SASL failure
  register TOKEN USER PASSWORD    pre-auth with TOKEN and register USER, then log in
  reports HTTP ADMIN ADMINPASSWORD USER PASSWORD NEWCONTACT NEWACCOUNT
                                  ADMIN and USER log in and keep the server's
                                  messages; USER makes a contact invite ("Invite a
                                  contact"), ADMIN an account invite in the groups
                                  Friends and Book club ("Create account invite");
                                  the account invite's page is opened (HTTP is the
                                  base URL of the pages); NEWCONTACT and NEWACCOUNT
                                  register with them in band and log in, each
                                  keeping its welcome; then USER waits for the
                                  reminder of an invite of theirs that expires soon
  approval ADMIN ADMINPASSWORD TOKEN USER PASSWORD
                                  ADMIN logs in and waits for the server's messages;
                                  USER registers with TOKEN (pre-auth + XEP-0077) and
                                  its login is refused (the SASL failure reported);
                                  ADMIN reads the server's message about it, runs
                                  "Approve new accounts" (xep_0050), choosing USER
                                  and approve; USER logs in (retried while the
                                  approval travels to the server)
"""

import asyncio
import codecs
import json
import logging
import ssl
import sys
import traceback
import urllib.request
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

DOMAIN = "localhost"
TIMEOUT = 60
NS_COMMANDS = "http://jabber.org/protocol/commands"


class Client(slixmpp.ClientXMPP):
    """A slixmpp client for a self-signed test server on 127.0.0.1:PORT."""

    def __init__(self, jid, password, port, whitespace=False, lang="en"):
        super().__init__(jid, password, lang=lang)
        self.port = port
        self.whitespace = whitespace
        self.ready = asyncio.get_event_loop().create_future()
        for p in ("xep_0030", "xep_0004", "xep_0050", "xep_0077", "xep_0199"):
            self.register_plugin(p)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler("session_start", self._started)
        self.add_event_handler("failed_auth", lambda _: self._fail("authentication failed"))
        self.add_event_handler("connection_failed", lambda e: self._fail("connection failed: %s" % e))
        self.add_event_handler("disconnected", lambda _: self._fail("disconnected before the session started"))

    def send_raw(self, data):
        # Whitespace between every top-level element (RFC 6120 §11.7), stream headers
        # included: what go-sendxmpp does after the restarted stream header.
        if self.whitespace:
            if isinstance(data, bytes):
                data = data.decode("utf-8")
            data = "\n  " + data + "\n\t"
        super().send_raw(data)

    def _started(self, _):
        if not self.ready.done():
            self.ready.set_result(True)

    def _fail(self, why):
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(why))

    async def start(self):
        self.connect(("127.0.0.1", self.port))
        await asyncio.wait_for(self.ready, TIMEOUT)


def pw(user):
    """The password interop_test.go's pw gives user: "pass of " and its rot13."""
    return "pass of " + codecs.encode(user, "rot13")


def fill(form, mode, label_prefix=None, user=None):
    """Returns the values to submit for a form, as a person accepting what is offered
    would: a list of invites or keys gets the option whose label holds
    label_prefix (submitted by label, as Gajim does) or the one made by this run
    ("interop-" + mode, submitted by value); a field that has a value keeps it; the
    name and the note get "interop-" + mode; a required username is the user's own;
    a required list of JIDs gets nobody@localhost; other required text fields get
    "x"."""
    values = {}
    mine = "interop-" + mode
    for var, field in form["fields"].items():
        ftype = field["type"]
        if ftype in ("fixed", "hidden") or not var:
            if ftype == "hidden":
                values[var] = field["value"]
            continue
        if ftype in ("list-multi", "list-single") and field["options"]:
            chosen = []
            for opt in field["options"]:
                if label_prefix is not None:
                    if label_prefix in opt["label"]:
                        chosen = [opt["label"]]
                        break
                elif mine in opt["label"]:
                    chosen = [opt["value"]]
                    break
            if not chosen and ftype == "list-single":
                chosen = [field["value"] or field["options"][0]["value"]]
            values[var] = chosen if ftype == "list-multi" else chosen[0]
        elif field["value"] not in (None, "", []):
            values[var] = field["value"]
        elif var in ("name", "note"):
            values[var] = mine
        elif var == "username" and field["required"] and user:
            values[var] = user
        elif ftype == "jid-multi" and field["required"]:
            values[var] = ["nobody@" + DOMAIN]  # the server's account commands: no one real
        elif field["required"]:
            values[var] = "x"
    return values


async def run_command(c, node, mode, label_prefix=None, user=None):
    """Runs node through all its stages; mode is the action used to submit each
    form ("next" or "complete"; complete falls back to next on earlier stages).
    Returns what happened."""
    run = {"node": node, "mode": mode, "stages": 0, "actions": [], "sent": [], "pages": []}
    resp = await c["xep_0050"].send_command(DOMAIN, node, action="execute", timeout=TIMEOUT)
    while True:
        cmd = resp["command"]
        run["status"] = cmd["status"]
        run["notes"] = [[n[0], n[1]] for n in cmd["notes"]]
        form = cmd["form"] if cmd.xml.find("{jabber:x:data}x") is not None else None
        if form is not None and "page" in form.get_fields():
            # A page of a list: what it says it shows, and the IDs on it.
            fields = form.get_fields()
            ids = fields["id"].get_value() if "id" in fields else []
            if isinstance(ids, str):  # slixmpp joins a text-multi's values with newlines
                ids = ids.split("\n") if ids else []
            run["pages"].append({"page": fields["page"].get_value(), "ids": ids})
        if cmd["status"] != "executing":
            if form is not None:
                run["result"] = {var: f.get_value() for var, f in form.get_fields().items()}
                run["result_types"] = {var: f["type"] for var, f in form.get_fields().items()}
                run["reported"] = len(form.xml.findall("{jabber:x:data}item"))
            return run
        run["stages"] += 1
        actions = list(cmd["actions"])
        run["actions"].append(actions)
        action = mode if mode in actions else "next"
        fields = {}
        for var, f in form.get_fields().items():
            fields[var] = {
                "type": f["type"] or "text-single",
                "required": bool(f["required"]),
                "value": f.get_value(),
                "options": [{"label": o["label"], "value": o["value"]} for o in f["options"]],
            }
        values = fill({"fields": fields}, mode, label_prefix, user)
        run["sent"].append(values)
        submit = c["xep_0004"].make_form(ftype="submit")
        for var, v in values.items():
            submit.add_field(var=var, value=v, ftype=fields[var]["type"])
        resp = await c["xep_0050"].send_command(DOMAIN, node, action=action, sessionid=cmd["sessionid"],
                                                payload=submit, timeout=TIMEOUT)


async def list_commands(c):
    items = await c["xep_0050"].get_commands(DOMAIN, timeout=TIMEOUT)
    return {i[1]: i[2] for i in items["disco_items"]["items"]}


async def commands(port, user, password):
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    await c.start()
    out = {"commands": await list_commands(c), "runs": []}
    # slixmpp hands the items over as a set: run them in an order where a key or an
    # invite is created before the commands that pick it.
    first = ["urn:xmpp-invites:keys#create", "urn:xmpp-invites:keys#list", "urn:xmpp-invites:keys#delete",
             "urn:xmpp:invite#create-account", "urn:xmpp:invite#invite", "urn:xmpp-invites:invites#list",
             "urn:xmpp-invites:invites#change", "urn:xmpp-invites:invites#revoke"]
    nodes = [n for n in first if n in out["commands"]] + sorted(n for n in out["commands"] if n not in first)
    for mode in ("next", "complete"):
        for node in nodes:
            out["runs"].append(await run_command(c, node, mode, user=user))
    c.disconnect()
    return out


async def keys(port, user, password):
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    await c.start()
    run = await run_command(c, "urn:xmpp-invites:keys#list", "complete")
    c.disconnect()
    return run


async def pages(port, user, password):
    """Pages through the key list as poezio does: next on every page, with the page's
    fields sent back."""
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    await c.start()
    run = await run_command(c, "urn:xmpp-invites:keys#list", "next")
    c.disconnect()
    return run


async def delete_label(port, user, password, prefix):
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    await c.start()
    run = await run_command(c, "urn:xmpp-invites:keys#delete", "complete", label_prefix=prefix)
    c.disconnect()
    return run


async def whitespace(port, user, password):
    c = Client("%s@%s" % (user, DOMAIN), password, port, whitespace=True)
    await c.start()
    await c["xep_0199"].send_ping(DOMAIN, timeout=TIMEOUT)
    out = {"jid": str(c.boundjid), "commands": await list_commands(c)}
    out["run"] = await run_command(c, "urn:xmpp:invite#invite", "next")
    c.disconnect()
    return out


async def invites(port, user, password, note):
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    await c.start()
    out = {"create": await run_command(c, "urn:xmpp:invite#create-account", "label", user=user)}
    # The note of the invite made just now is "interop-label" (fill's rule); NOTE is the
    # label prefix the revocation submits.
    out["list"] = await run_command(c, "urn:xmpp-invites:invites#list", "complete", user=user)
    out["revoke"] = await run_command(c, "urn:xmpp-invites:invites#revoke", "complete", label_prefix=note, user=user)
    listed = await c["xep_0050"].send_command(DOMAIN, "urn:xmpp-invites:invites#list", action="execute", timeout=TIMEOUT)
    form = c["xep_0004"].make_form(ftype="submit")
    form.add_field(var="status", value="Revoked", ftype="list-single")  # a label, as Gajim submits
    resp = await c["xep_0050"].send_command(DOMAIN, "urn:xmpp-invites:invites#list", action="next",
                                            sessionid=listed["command"]["sessionid"], payload=form, timeout=TIMEOUT)
    fields = resp["command"]["form"].get_fields() if resp["command"].xml.find("{jabber:x:data}x") is not None else {}
    out["revoked"] = {var: f.get_value() for var, f in fields.items()}
    c.disconnect()
    return out


def form_of(iq):
    """The fields of a command response's form as [var, type, value], in order."""
    x = iq.xml.find("{%s}command/{jabber:x:data}x" % NS_COMMANDS)
    if x is None:
        return []
    form = iq["command"]["form"]
    return [[f["var"], f["type"], f.get_value()] for f in form["substanzas"] if f.name == "field"]


async def correct(port, user, password):
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    await c.start()
    loop = asyncio.get_event_loop()
    steps = []
    waiting = [loop.create_future()]

    def on_next(iq, session):
        steps.append({"status": iq["command"]["status"], "notes": [[n[0], n[1]] for n in iq["command"]["notes"]],
                      "fields": form_of(iq)})
        session["last"] = iq
        if not waiting[0].done():
            waiting[0].set_result(session)

    def on_error(iq, session):
        steps.append({"error": iq["error"]["condition"], "text": iq["error"]["text"]})
        if not waiting[0].done():
            waiting[0].set_result(session)

    async def step(action):
        waiting[0] = loop.create_future()
        action()
        try:
            return await asyncio.wait_for(waiting[0], 10)
        except asyncio.TimeoutError:
            steps.append({"timeout": True})
            return None

    def submit(session, **values):
        # What poezio does (core/handlers.py next_adhoc_step, tabs/data_forms.py): the
        # form received, the response's notes added as fixed fields without a var,
        # the values set, the form turned into a submission and sent with next.
        iq = session["last"]
        form = iq["command"]["form"]
        for note in iq["command"]["notes"]:
            form.add_field(ftype="fixed", label=note[1])
        fields = form.get_fields()
        for var, v in values.items():
            fields[var]["value"] = v
        form.reply()
        session["payload"] = form
        c["xep_0050"].continue_command(session)

    node = "urn:xmpp-invites:keys#create"
    session = {"next": on_next, "error": on_error}
    session = await step(lambda: c["xep_0050"].start_command(DOMAIN, node, session))
    session = await step(lambda: submit(session, name="interop-correct", rate="lots"))
    await step(lambda: submit(session, name="interop-correct", rate="5/m"))

    # A session that ended meanwhile: the server's bad-sessionid reaches the handler.
    session = {"next": on_next, "error": on_error}
    session = await step(lambda: c["xep_0050"].start_command(DOMAIN, node, session))
    await c["xep_0050"].send_command(DOMAIN, node, action="cancel", sessionid=session["id"], timeout=TIMEOUT)
    await step(lambda: submit(session, name="interop-late"))
    c.disconnect()
    return {"steps": steps}


def roster_of(iq):
    return {str(jid): {"subscription": item["subscription"], "ask": item["ask"] or ""}
            for jid, item in iq["roster"]["items"].items()}


async def invite(port, user, password, newuser, newpassword):
    inviter = Client("%s@%s" % (user, DOMAIN), password, port)
    pushed = asyncio.get_event_loop().create_future()
    received = asyncio.get_event_loop().create_future()
    noticed = asyncio.get_event_loop().create_future()

    def on_push(iq):
        items = roster_of(iq)
        who = "%s@%s" % (newuser, DOMAIN)
        if items.get(who, {}).get("subscription") == "both" and not pushed.done():
            pushed.set_result(items)

    def on_message(msg):
        if not msg["body"]:
            return
        if str(msg["from"]) == DOMAIN:  # the server telling the inviter
            if not noticed.done():
                noticed.set_result({"from": str(msg["from"]), "body": msg["body"]})
        elif not received.done():
            received.set_result({"from": str(msg["from"]), "body": msg["body"]})

    inviter.add_event_handler("roster_update", on_push)
    inviter.add_event_handler("message", on_message)
    await inviter.start()
    await inviter.get_roster(timeout=TIMEOUT)
    inviter.send_presence()
    run = await run_command(inviter, "urn:xmpp:invite#invite", "complete")
    uri = (run.get("result") or {}).get("uri", "")
    token = ""
    for part in uri.split("?", 1)[-1].split(";"):
        if part.startswith("preauth="):
            token = part[len("preauth="):]
    out = {"uri": uri}

    invitee = Client("%s@%s" % (newuser, DOMAIN), newpassword, port)
    # slixmpp holds back stanzas before the session starts: registration happens
    # before it.
    invitee._always_send_everything = True
    registered = asyncio.get_event_loop().create_future()

    async def on_register(_form):
        try:
            pre = invitee.Iq()
            pre["type"] = "set"
            pre.append(ET.fromstring("<preauth xmlns='urn:xmpp:pars:0' token='%s'/>" % token))
            await pre.send(timeout=TIMEOUT)
            reg = invitee.Iq()
            reg["type"] = "set"
            reg["register"]["username"] = newuser
            reg["register"]["password"] = newpassword
            await reg.send(timeout=TIMEOUT)
            registered.set_result(True)
        except (IqError, IqTimeout) as e:
            registered.set_exception(RuntimeError("registration refused: %s" % e))
            invitee.disconnect()

    invitee.add_event_handler("register", on_register)
    await invitee.start()
    await asyncio.wait_for(registered, TIMEOUT)
    out["invitee_roster"] = roster_of(await invitee.get_roster(timeout=TIMEOUT))
    invitee.send_presence()
    out["inviter_push"] = await asyncio.wait_for(pushed, TIMEOUT)
    out["inviter_roster"] = roster_of(await inviter.get_roster(timeout=TIMEOUT))
    invitee.send_message(mto="%s@%s" % (user, DOMAIN), mbody="hello from the invitee", mtype="chat")
    out["message"] = await asyncio.wait_for(received, TIMEOUT)
    out["notice"] = await asyncio.wait_for(noticed, TIMEOUT)
    invitee.disconnect()
    inviter.disconnect()
    return out


async def form_invitation(port, newuser, newpassword, invitation):
    name = "" if newuser == "-" else newuser
    # With no name, the account is the invitation's: log in as what registration said.
    c = Client("%s@%s" % (name or "pending", DOMAIN), newpassword, port)
    c._always_send_everything = True  # registration happens before the session starts
    out = {}
    registered = asyncio.get_event_loop().create_future()

    def submit(form, value):
        reply = c["xep_0004"].make_form(ftype="submit")
        for var, f in form.get_fields().items():
            if f["type"] == "hidden":
                reply.add_field(var=var, value=f.get_value(), ftype="hidden")
            elif var == "invitation":
                reply.add_field(var=var, value=value)
            elif var == "username":
                reply.add_field(var=var, value=name)
            elif var == "password":
                reply.add_field(var=var, value=newpassword, ftype="text-private")
        iq = c.Iq()
        iq["type"] = "set"
        iq["register"].append(reply)
        return iq.send(timeout=TIMEOUT)

    async def on_register(resp):
        try:
            form = resp["register"]["form"]
            out["fields"] = [{"var": f["var"], "type": f["type"], "label": f["label"], "desc": f["desc"],
                              "required": bool(f["required"])} for f in form["substanzas"] if f.name == "field"]
            try:
                await submit(form, "not an invitation")
                out["bad"] = {"condition": "", "text": "accepted"}
            except IqError as e:
                out["bad"] = {"condition": e.iq["error"]["condition"], "text": e.iq["error"]["text"]}
            result = await submit(form, invitation)
            registered.set_result(result)
        except (IqError, IqTimeout) as e:
            registered.set_exception(RuntimeError("registration refused: %s" % e))
            c.disconnect()

    c.add_event_handler("register", on_register)
    c.connect(("127.0.0.1", c.port))
    await asyncio.wait_for(registered, TIMEOUT)
    if not name:
        # Log in again, as the account the invitation fixed.
        c.disconnect()
        return out
    await asyncio.wait_for(c.ready, TIMEOUT)
    out["jid"] = str(c.boundjid)
    c.disconnect()
    return out


async def preauth_register(c, token, user, password):
    """Sends the pre-auth IQ with token, then registers user with password."""
    pre = c.Iq()
    pre["type"] = "set"
    pre.append(ET.fromstring("<preauth xmlns='urn:xmpp:pars:0' token='%s'/>" % token))
    await pre.send(timeout=TIMEOUT)
    reg = c.Iq()
    reg["type"] = "set"
    reg["register"]["username"] = user
    reg["register"]["password"] = password
    return await reg.send(timeout=TIMEOUT)


def error_of(e):
    return {"type": e.iq["error"]["type"], "condition": e.iq["error"]["condition"], "text": e.iq["error"]["text"]}


async def password_policy(port, token, user, lang):
    good = "a good pass for " + lang
    c = Client("%s@%s" % (user, DOMAIN), good, port, lang=lang)
    c._always_send_everything = True  # registration happens before the session starts
    out = {"refusals": []}
    registered = asyncio.get_event_loop().create_future()

    async def on_register(_form):
        try:
            for i, password in enumerate(("12345678", " " * 8, user + "-2024!")):
                try:
                    if i == 0:
                        await preauth_register(c, token, user, password)
                    else:
                        reg = c.Iq()
                        reg["type"] = "set"
                        reg["register"]["username"] = user
                        reg["register"]["password"] = password
                        await reg.send(timeout=TIMEOUT)
                    out["refusals"].append({"password": password, "condition": "", "text": "accepted"})
                except IqError as e:
                    out["refusals"].append(dict(error_of(e), password=password))
            reg = c.Iq()
            reg["type"] = "set"
            reg["register"]["username"] = user
            reg["register"]["password"] = good
            await reg.send(timeout=TIMEOUT)
            registered.set_result(True)
        except (IqError, IqTimeout) as e:
            registered.set_exception(RuntimeError("registration refused: %s" % e))
            c.disconnect()

    c.add_event_handler("register", on_register)
    await c.start()
    await asyncio.wait_for(registered, TIMEOUT)
    out["jid"] = str(c.boundjid)
    c.disconnect()
    return out


async def sasl_failure(c):
    """Connects c and returns its first SASL failure."""
    failed = asyncio.get_event_loop().create_future()

    def on_failed(stanza):
        if not failed.done():
            failed.set_result({"condition": stanza["condition"], "text": stanza["text"]})

    c.add_event_handler("failed_auth", on_failed)
    c.ready.add_done_callback(lambda f: f.exception())  # the login fails: not an error here
    c.connect(("127.0.0.1", c.port))
    out = await asyncio.wait_for(failed, TIMEOUT)
    c.disconnect()
    return out


async def login_refused(port, user, password):
    return await sasl_failure(Client("%s@%s" % (user, DOMAIN), password, port))


async def register_pending(port, token, user, password):
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    c._always_send_everything = True
    registered = asyncio.get_event_loop().create_future()

    async def on_register(_form):
        try:
            await preauth_register(c, token, user, password)
            registered.set_result(True)
        except (IqError, IqTimeout) as e:
            registered.set_exception(RuntimeError("registration refused: %s" % e))
            c.disconnect()

    c.add_event_handler("register", on_register)
    failure = asyncio.ensure_future(sasl_failure(c))
    await asyncio.wait_for(registered, TIMEOUT)
    out = await failure
    out["registered"] = True
    return out


async def registered_client(port, token, user, password):
    """Registers user with token (pre-auth + XEP-0077) and logs in; returns the client
    and the inbox of the server's messages it got from the start."""
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    c._always_send_everything = True  # registration happens before the session starts
    inbox = Inbox(c)
    registered = asyncio.get_event_loop().create_future()

    async def on_register(_form):
        try:
            await preauth_register(c, token, user, password)
            registered.set_result(True)
        except (IqError, IqTimeout) as e:
            registered.set_exception(RuntimeError("registration refused: %s" % e))
            c.disconnect()

    c.add_event_handler("register", on_register)
    await c.start()
    await asyncio.wait_for(registered, TIMEOUT)
    c.send_presence()
    return c, inbox


async def register(port, token, user, password):
    c, _ = await registered_client(port, token, user, password)
    out = {"jid": str(c.boundjid)}
    c.disconnect()
    return out


class Inbox:
    """The messages a client receives from the server (from the bare domain), in order;
    wait returns the first whose body holds text."""

    def __init__(self, c):
        self.messages = []
        self.changed = asyncio.Event()
        c.add_event_handler("message", self._on_message)

    def _on_message(self, msg):
        if str(msg["from"]) == DOMAIN and msg["body"]:
            self.messages.append({"from": str(msg["from"]), "type": msg["type"], "subject": msg["subject"],
                                  "body": msg["body"]})
            self.changed.set()

    async def wait(self, text, timeout=TIMEOUT):
        async def first():
            while True:
                for m in self.messages:
                    if text in m["body"]:
                        return m
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(first(), timeout)


async def login_retried(port, user, password, tries=40):
    """Logs user in, trying again every half second while the login is refused (a
    change made elsewhere travels to the server); returns the connected client and
    the failures seen before."""
    failures = []
    for _ in range(tries):
        c = Client("%s@%s" % (user, DOMAIN), password, port)
        failed = []
        c.add_event_handler("failed_auth", lambda s, failed=failed: failed.append({"condition": s["condition"], "text": s["text"]}))
        try:
            await c.start()
            return c, failures
        except RuntimeError:
            failures.extend(failed)
            c.disconnect()
            await asyncio.sleep(0.5)
    raise RuntimeError("%s still cannot log in: %s" % (user, failures[-3:]))


async def approval(port, admin, admin_password, token, user, password):
    a = Client("%s@%s" % (admin, DOMAIN), admin_password, port)
    inbox = Inbox(a)
    await a.start()
    a.send_presence()
    out = {}

    # The registration, then a login that is refused.
    c = Client("%s@%s" % (user, DOMAIN), password, port)
    c._always_send_everything = True
    registered = asyncio.get_event_loop().create_future()

    async def on_register(_form):
        try:
            res = await preauth_register(c, token, user, password)
            # The result says the account waits for approval (its query's instructions).
            out["instructions"] = res["register"]["instructions"]
            registered.set_result(True)
        except (IqError, IqTimeout) as e:
            registered.set_exception(RuntimeError("registration refused: %s" % e))
            c.disconnect()

    c.add_event_handler("register", on_register)
    failure = asyncio.ensure_future(sasl_failure(c))
    await asyncio.wait_for(registered, TIMEOUT)
    out["refused"] = await failure
    out["registered"] = True

    # The administrator is told, then approves over the ad-hoc command.
    jid = "%s@%s" % (user, DOMAIN)
    out["message"] = await inbox.wait(jid)
    node = "urn:xmpp-invites:accounts#approve"
    resp = await a["xep_0050"].send_command(DOMAIN, node, action="execute", timeout=TIMEOUT)
    cmd = resp["command"]
    fields = cmd["form"].get_fields()
    out["form"] = {var: {"type": f["type"], "value": f.get_value(),
                         "options": [o["value"] for o in f["options"]]} for var, f in fields.items()}
    submit = a["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="accounts", value=[jid], ftype="list-multi")
    submit.add_field(var="decision", value="approve", ftype="list-single")
    resp = await a["xep_0050"].send_command(DOMAIN, node, action="complete", sessionid=cmd["sessionid"],
                                            payload=submit, timeout=TIMEOUT)
    out["approve"] = {"status": resp["command"]["status"], "notes": [[n[0], n[1]] for n in resp["command"]["notes"]]}

    # Approved, the account logs in.
    c2, out["refused_after"] = await login_retried(port, user, password)
    out["jid"] = str(c2.boundjid)
    c2.disconnect()
    a.disconnect()
    return out


async def reports(port, http, admin, admin_password, user, user_password, new_contact, new_account):
    a = Client("%s@%s" % (admin, DOMAIN), admin_password, port)
    admin_inbox = Inbox(a)
    u = Client("%s@%s" % (user, DOMAIN), user_password, port)
    user_inbox = Inbox(u)
    await a.start()
    await u.start()
    a.send_presence()
    u.send_presence()
    out = {}

    def token_of(resp):
        form = resp["command"]["form"]
        uri = form.get_fields()["uri"].get_value()
        for part in uri.split("?", 1)[-1].split(";"):
            if part.startswith("preauth="):
                return part[len("preauth="):]
        raise RuntimeError("no token in %s" % uri)

    resp = await u["xep_0050"].send_command(DOMAIN, "urn:xmpp:invite#invite", action="execute", timeout=TIMEOUT)
    out["contact_token"] = token_of(resp)
    node = "urn:xmpp:invite#create-account"
    resp = await a["xep_0050"].send_command(DOMAIN, node, action="execute", timeout=TIMEOUT)
    submit = a["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="groups", value=["Friends", "Book club"], ftype="text-multi")
    resp = await a["xep_0050"].send_command(DOMAIN, node, action="complete", sessionid=resp["command"]["sessionid"],
                                            payload=submit, timeout=TIMEOUT)
    out["account_token"] = token_of(resp)

    # The account invite's page, opened as a browser would.
    def get_page():
        with urllib.request.urlopen(http + "/invite?" + out["account_token"], timeout=TIMEOUT) as r:
            return r.status
    out["page_status"] = await asyncio.get_event_loop().run_in_executor(None, get_page)

    # The new accounts: their welcomes at their first logins.
    c1, inbox1 = await registered_client(port, out["contact_token"], new_contact, pw(new_contact))
    out["contact_welcome"] = await inbox1.wait("Welcome")
    c2, inbox2 = await registered_client(port, out["account_token"], new_account, pw(new_account))
    out["account_welcome"] = await inbox2.wait("Welcome")

    # The inviters told; the reminder.
    out["user_notice"] = await user_inbox.wait("%s@%s joined" % (new_contact, DOMAIN))
    out["admin_notice"] = await admin_inbox.wait("%s@%s joined" % (new_account, DOMAIN))
    out["reminder"] = await user_inbox.wait("expires on", timeout=45)
    out["user_messages"] = user_inbox.messages
    out["admin_messages"] = admin_inbox.messages
    for c in (c1, c2, u, a):
        c.disconnect()
    return out


SCENARIOS = {
    "commands": (commands, 2),
    "keys": (keys, 2),
    "pages": (pages, 2),
    "delete-label": (delete_label, 3),
    "whitespace": (whitespace, 2),
    "invite": (invite, 4),
    "invites": (invites, 3),
    "correct": (correct, 2),
    "form-invitation": (form_invitation, 3),
    "password-policy": (password_policy, 3),
    "login-refused": (login_refused, 2),
    "register-pending": (register_pending, 3),
    "register": (register, 3),
    "reports": (reports, 7),
    "approval": (approval, 5),
}


def main(argv):
    if len(argv) < 3 or argv[1] not in SCENARIOS or len(argv) - 3 != SCENARIOS[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    fn = SCENARIOS[argv[1]][0]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        out = loop.run_until_complete(asyncio.wait_for(fn(int(argv[2]), *argv[3:]), TIMEOUT + 10))
    except Exception as e:  # reported to the Go test, which shows it
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
