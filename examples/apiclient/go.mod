module example.com/apiclient

go 1.26.4

require github.com/xmpp-invites/invites v0.0.0-00010101000000-000000000000

require (
	github.com/mtibben/confusables v0.0.0-20210201002637-9d1b0723b659 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	mellium.im/reader v0.1.0 // indirect
	mellium.im/xmlstream v0.15.4 // indirect
	mellium.im/xmpp v0.23.0 // indirect
)

replace github.com/xmpp-invites/invites => ../..
