"""Provides FleetScreen: every named host at once — kernel, IOMMU, interrupt remapping, free devices by
class, VMs, failing checks — filled in as each host answers; Enter opens the highlighted host."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from vfio_tui.core.fleet import CLASSES, HostSummary
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import VfioScreen

COLUMNS = ("Host", "Kernel", "IOMMU", "IR", "Groups", "Free (whole group, no VM)", "In VMs", "Failing checks")
FILTERS = (None, *CLASSES)


def row_cells(s: HostSummary, device_class: str | None) -> tuple[Text, ...]:
    """The table row of one host (a host that did not answer: its reason across the row)."""
    if not s.ok:
        return (Text(s.name, style="bold"), Text("DOWN", style="bold red"), Text(""), Text(""), Text(""),
                Text(s.error or "?", style="red"), Text(""), Text(""))
    counts = s.free_by_class()
    if not s.host_use_known or not s.vms_known:
        free = Text("? (" + ("host use" if not s.host_use_known else "VMs") + " not recorded)", style="yellow")
    elif device_class is not None:
        n = counts.get(device_class, 0)
        free = Text(f"{device_class} {n}", style="bold green" if n else "dim")
    else:
        free = Text(", ".join(f"{c} {n}" for c, n in counts.items()) or "none", style="green" if counts else "dim")
    iommu = Text("on " + ",".join(s.iommu_units[:2]) if s.iommu else "off", style="" if s.iommu else "red")
    vms = f"{len(s.held)} running" + (f", {len(s.assigned)} defined" if s.assigned else "") if s.vms_known else "?"
    fails = Text(", ".join(s.failing_checks) or "-", style="red" if s.failing_checks else "dim")
    return (Text(s.name, style="bold"), Text(s.kernel or "?"), iommu,
            Text(s.interrupt_remapping, style="red" if s.interrupt_remapping == "off" else ""),
            Text(str(s.groups)), free, Text(vms), fails)


def host_detail(s: HostSummary, device_class: str | None) -> Text:
    text = Text()
    text.append(f"{s.name}  ({s.target})\n", style="bold")
    if not s.ok:
        text.append(f"{s.error}\n", style="red")
        return text
    text.append(f"{s.label}; read with {s.reader} in {s.seconds:.1f} s\n", style="dim")
    free = [d for d in s.free if device_class is None or d.device_class == device_class]
    what = f"free {device_class} devices" if device_class else "free devices"
    text.append(f"\n{what} (whole IOMMU group, nothing on the host or in a VM uses it):\n", style="bold")
    for d in free:
        mates = f"  with {', '.join(d.mates)}" if d.mates else ""
        text.append(f"  {d.address}  group {d.group}  {d.device_class:<5} {d.name} [{d.ids}]{mates}\n")
    if not free:
        text.append("  none\n", style="dim")
    for title, rows in (("in running VMs", s.held), ("in defined VMs (not running)", s.assigned)):
        if rows:
            text.append(f"\n{title}:\n", style="bold")
            for r in rows:
                text.append(f"  {r['address']}  {r['vm']} ({r['state']})\n")
    if s.failing_checks or s.warning_checks:
        text.append("\nchecks: ", style="bold")
        text.append(f"fail {', '.join(s.failing_checks) or '-'}; warn {', '.join(s.warning_checks) or '-'}\n")
    text.append(f"\nEnter opens {s.name}: its tree, checks and passthrough (changes run by vfio-tui there).\n",
                style="dim")
    return text


class FleetScreen(VfioScreen):
    """The fleet, read in a worker; rows appear as hosts answer, a host down shows its reason."""

    CSS_PATH = "fleet.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "reload", "Reload"),
        Binding("f", "next_class", "Class filter"),
        Binding("enter", "open_host", "Open host", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.summaries: dict[str, HostSummary] = {}
        self.device_class: str | None = None

    def compose(self) -> ComposeResult:
        from vfio_tui.tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        yield Static("Reading the hosts…", id="fleet-status")
        table: DataTable[Text] = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="fleet-detail-pane"):
            yield Static("", id="fleet-detail")
        yield Footer()

    def on_mount(self) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        for col in COLUMNS:
            table.add_column(col, key=col)
        self.action_reload()

    def action_reload(self) -> None:
        from vfio_tui.tui.fleet_session import named_hosts

        table: DataTable[Text] = self.query_one(DataTable)
        table.clear()
        self.summaries.clear()
        hosts = named_hosts()
        if not hosts:
            self._status("No hosts yet: add them with `vfio-tui hosts add NAME [user@]host[:port]`.")
            return
        for entry in hosts:  # every host has its row at once; its facts come when it answers
            table.add_row(Text(entry.name, style="bold"), Text("…", style="dim"), *(Text("") for _ in COLUMNS[2:]),
                          key=entry.name)
        self._status(f"Reading {len(hosts)} hosts over ssh…")
        self.read_fleet()

    @work(thread=True, exclusive=True, group="fleet", exit_on_error=False, description="Reading the hosts")
    def read_fleet(self) -> None:
        from vfio_tui.tui.fleet_session import fleet

        result = fleet(lambda s: self.app.call_from_thread(self._show_host, s))
        down = [s.name for s in result if not s.ok]
        self.app.call_from_thread(self._status, f"{len(result)} hosts" + (f"; down: {', '.join(down)}" if down
                                                                          else "; all answered"))

    def _show_host(self, s: HostSummary) -> None:
        self.summaries[s.name] = s
        table: DataTable[Text] = self.query_one(DataTable)
        for col, cell in zip(COLUMNS, row_cells(s, self.device_class), strict=True):
            table.update_cell(s.name, col, cell, update_width=True)
        self._show_detail()

    def _status(self, text: str) -> None:
        self.query_one("#fleet-status", Static).update(Text(text))

    def show_worker_error(self, what: str, text: str) -> None:
        self._status(text)

    def _highlighted(self) -> str | None:
        table: DataTable[Text] = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        name = self._highlighted()
        s = self.summaries.get(name or "")
        detail = host_detail(s, self.device_class) if s is not None else Text(f"{name or ''}: waiting for it…")
        self.query_one("#fleet-detail", Static).update(detail)

    def action_next_class(self) -> None:
        self.device_class = FILTERS[(FILTERS.index(self.device_class) + 1) % len(FILTERS)]
        for s in list(self.summaries.values()):
            self._show_host(s)
        self._status(f"free devices: {self.device_class or 'every class'}")

    @on(DataTable.RowSelected)
    def action_open_host(self) -> None:
        name = self._highlighted()
        s = self.summaries.get(name or "")
        if name is None or s is None or not s.ok:
            self.notify(f"{name}: not readable now" if name else "no host", severity="warning")
            return
        self.vfio_app.open_named_host(name)
