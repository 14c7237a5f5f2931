"""An SLA report as a download: CSV (one row per objective) and PDF (branded with the partner's name,
colours and footer; fpdf2, fonts built in, so it renders the same on any machine)."""

from __future__ import annotations

import csv
import io

from fpdf import FPDF

from app.sla.report import ObjectiveResult, SlaReport
from tenants.branding import Brand

COLUMNS = ("objective", "label", "target", "unit", "measured", "samples", "breached", "credit_percent")


def shown(value: float | None, unit: str) -> str:
    """A figure as people read it: seconds to 0.1, percentages to 0.01; '—' for nothing measured."""
    if value is None:
        return "—"
    return f"{value:.1f}" if unit == "s" else f"{value:.2f}"


def target_text(result: ObjectiveResult) -> str:
    sign = "≤" if result.direction == "at_most" else "≥"
    return f"{sign} {shown(result.target, result.unit)} {result.unit}"


def sla_csv(report: SlaReport, brand: Brand) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["partner", brand.name])
    writer.writerow(["retailer", report.tenant_name])
    writer.writerow(["period", report.period.key])
    writer.writerow(["plan", report.plan])
    writer.writerow(["final", "yes" if report.is_final else "no (period in progress)"])
    writer.writerow([])
    writer.writerow(COLUMNS)
    for r in report.objectives:
        writer.writerow(
            [
                r.key,
                r.label,
                r.target,
                r.unit,
                "" if r.measured is None else round(r.measured, 4),
                r.samples,
                "yes" if r.breached else "no",
                r.credit_percent,
            ]
        )
    writer.writerow([])
    writer.writerow(["total_credit_percent", report.credit_percent])
    return out.getvalue()


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _latin(text: str) -> str:
    """The built-in PDF fonts are Latin-1; keep what they cannot show readable."""
    return (
        text.replace("≤", "<=")
        .replace("≥", ">=")
        .replace("—", "-")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def sla_pdf(report: SlaReport, brand: Brand) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"SLA report {report.tenant_name} {report.period.key}")
    pdf.set_author(brand.name)
    pdf.set_creator(brand.name)
    pdf.add_page()
    pdf.set_fill_color(*_rgb(brand.primary_color))
    pdf.rect(0, 0, 210, 24, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 16)
    pdf.set_xy(12, 8)
    pdf.cell(0, 8, _latin(brand.name))
    pdf.set_text_color(20, 20, 20)
    pdf.set_xy(12, 32)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(
        0,
        8,
        _latin(f"SLA report - {report.tenant_name} - {report.period.key}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", "", 10)
    state = (
        "final" if report.is_final else f"in progress, measured to {report.measured_at:%Y-%m-%d %H:%M} UTC"
    )
    pdf.cell(0, 6, _latin(f"Plan: {report.plan} ({state})"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    rows = [("Objective", "Target", "Measured", "Samples", "Breach", "Credit")]
    rows += [
        (
            r.label,
            target_text(r),
            f"{shown(r.measured, r.unit)} {r.unit}" if r.measured is not None else "-",
            str(r.samples),
            "yes" if r.breached else "no",
            f"{r.credit_percent:g} %",
        )
        for r in report.objectives
    ]
    with pdf.table(col_widths=(62, 26, 28, 22, 18, 20), text_align="LEFT") as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(_latin(value))
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(
        0,
        7,
        _latin(f"Credit on the period's charges: {report.credit_percent:g} %"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if brand.footer_text or brand.support_email:
        pdf.set_y(-24)
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(90, 90, 90)
        footer = " · ".join(x for x in (brand.footer_text, brand.support_email) if x)
        pdf.cell(0, 6, _latin(footer))
    return bytes(pdf.output())
