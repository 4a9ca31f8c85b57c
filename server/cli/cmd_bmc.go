package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// bmcCommands: a host's out-of-band controller (IPMI), which fences it.
func bmcCommands() *command {
	return &command{name: "bmc", summary: "Set or remove a host's BMC (IPMI fencing)", sub: []*command{
		{name: "set", summary: "Set a host's BMC, checked by reading its chassis power", run: (*app).hostBMCSet},
		{name: "power-on", summary: "Power a host's machine on through its BMC", run: (*app).hostBMCPowerOn},
		{name: "remove", aliases: []string{"rm", "delete"}, summary: "Remove a host's BMC", run: (*app).hostBMCRemove},
	}}
}

func (a *app) hostBMCSet(path string, args []string) error {
	f := a.flags(path, "NAME|ID --address ADDR [--port N] --username U --password-stdin",
		"Set a host's BMC (IPMI 2.0 lanplus): the server reads the chassis power with these settings before it keeps\n"+
			"them, keeps the password encrypted and never shows it. A failed host with a BMC is powered off, and its\n"+
			"HA instances restart elsewhere once the BMC reads the power back off.")
	addr := f.String("address", "", "the BMC's host name or IP address")
	port := f.Int("port", 0, "the BMC's UDP `port` (default 623)")
	user := f.String("username", "", "a BMC user with the administrator privilege")
	pwStdin := f.Bool("password-stdin", false, "read the BMC user's password from the first line of stdin")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	in := apitypes.HostBMCSet{Address: *addr, Port: *port, Username: *user}
	if *pwStdin {
		line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		if in.Password = strings.TrimRight(line, "\r\n"); in.Password == "" {
			return errors.New("no password on stdin")
		}
	}
	cl, id, err := a.lookup("host", pos[0])
	if err != nil {
		return err
	}
	h, err := cl.SetHostBMC(a.ctx, id, in)
	if err != nil {
		return err
	}
	return a.show(h, func(w io.Writer) { bmcDetail(w, h) })
}

func (a *app) hostBMCRemove(path string, args []string) error {
	f := a.flags(path, "NAME|ID", "Remove a host's BMC: the host can no longer be fenced by power.")
	cl, id, err := f.object(args, "NAME|ID", "host")
	if err != nil {
		return err
	}
	if err := cl.DeleteHostBMC(a.ctx, id); err != nil {
		return err
	}
	return a.show(struct{}{}, func(w io.Writer) { fmt.Fprintln(w, "BMC removed.") })
}

func (a *app) hostBMCPowerOn(path string, args []string) error {
	f := a.flags(path, "NAME|ID", "Power a host's machine on through its BMC (a fenced host being brought back) and wait\n"+
		"until the BMC reads the power on.")
	cl, id, err := f.object(args, "NAME|ID", "host")
	if err != nil {
		return err
	}
	h, err := cl.PowerOnHost(a.ctx, id)
	if err != nil {
		return err
	}
	return a.show(h, func(w io.Writer) { bmcDetail(w, h) })
}

// bmcDetail shows a host's BMC (never a password: the server returns none).
func bmcDetail(w io.Writer, h ovm.Host) {
	field(w, "Host", h.Name)
	if h.BMC == nil {
		field(w, "BMC", "none")
		return
	}
	field(w, "BMC", fmt.Sprintf("%s:%d", h.BMC.Address, h.BMC.Port))
	field(w, "BMC user", h.BMC.Username)
	field(w, "Power", h.BMC.Power)
	field(w, "Checked", h.BMC.CheckedAt.Format("2006-01-02T15:04:05Z07:00"))
}
