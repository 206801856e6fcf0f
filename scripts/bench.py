#!/usr/bin/env python3
"""Helpers of scripts/bench: fill a mailbox over LMTP, time musaid's backlog ingest, time
SMTP-to-task latency, time Debian's imapfilter on the same backlog, time window opening to
acknowledgement. Each subcommand prints `key=value` lines for the shell script.

Standard library only (python3 >= 3.11: tomllib). imapfilter, for its subcommand.
"""

import base64
import datetime as dt
import email.utils
import imaplib
import math
import os
import quopri
import random
import re
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time

# --- realistic requests ----------------------------------------------------------------

EN_TOPICS = [
    ("Invoice {n} from the printer", "Could you pay this invoice and file the receipt? The amount due is {amt} USD."),
    ("Book a flight to Dubai, {day}", "Please book a flight for me on {day}, morning if possible, and a hotel near the venue."),
    ("Meeting with the accountant", "Please schedule a meeting with Khalid for {day} afternoon and send him the agenda."),
    ("Instagram post for the new menu", "Can you post the new menu photos on Instagram and Facebook with the usual hashtags?"),
    ("Website contact form is broken", "The contact form on the website returns an error. Please check with the hosting company."),
    ("Update the customer spreadsheet", "Please add the new customers from this week to the spreadsheet and the CRM."),
    ("Quote for {n} units", "A customer asks for a quote for {n} units; please prepare it from the price list."),
    ("Expense report for October", "Here are the receipts from the trip. Please prepare the expense report."),
    ("Call the landlord", "Please call the landlord about the air conditioning, it is still not fixed."),
    ("Payment reminder for order {n}", "This customer has not paid order {n} yet. Please send a polite reminder."),
]
AR_TOPICS = [
    ("فاتورة رقم {n} من المطبعة", "أرجو دفع هذه الفاتورة وحفظ الإيصال في الملف. المبلغ المستحق {amt} ريال."),
    ("حجز رحلة إلى جدة يوم {day}", "أرجو حجز رحلة صباحية يوم {day} وفندق قريب من مكان الاجتماع."),
    ("اجتماع مع المحاسب", "أرجو ترتيب اجتماع مع الأستاذ خالد يوم {day} بعد الظهر وإرسال جدول الأعمال له."),
    ("منشور إنستغرام للقائمة الجديدة", "أرجو نشر صور القائمة الجديدة على إنستغرام وفيسبوك مع الوسوم المعتادة."),
    ("نموذج التواصل في الموقع لا يعمل", "نموذج التواصل في الموقع يعطي خطأ، أرجو التواصل مع شركة الاستضافة."),
    ("تحديث جدول العملاء", "أرجو إضافة العملاء الجدد لهذا الأسبوع إلى الجدول وإلى نظام إدارة العملاء."),
    ("عرض سعر لـ {n} قطعة", "عميل يطلب عرض سعر لـ {n} قطعة، أرجو تجهيزه من قائمة الأسعار."),
    ("مصاريف رحلة الرياض", "هذه إيصالات الرحلة، أرجو تجهيز كشف المصروفات."),
    ("الاتصال بالمالك", "أرجو الاتصال بالمالك بخصوص المكيف، ما زال معطلاً."),
    ("تذكير بالدفع للطلب {n}", "هذا العميل لم يدفع الطلب {n} بعد، أرجو إرسال تذكير لطيف."),
]
EN_FILL = (
    "We discussed this last week and the details are below. Let me know if anything is unclear, "
    "and keep the customer in copy when you answer. The previous thread had the numbers from "
    "the supplier, the delivery dates and the contact person at the warehouse. "
    "Thanks a lot for your help, it makes a real difference to the business. "
)
AR_FILL = (
    "تحدثنا في هذا الموضوع الأسبوع الماضي والتفاصيل أدناه. أخبرني إذا كان هناك أي شيء غير واضح، "
    "وضع العميل في النسخة عند الرد. في المراسلة السابقة أرقام المورد ومواعيد التسليم واسم "
    "المسؤول في المستودع. شكراً جزيلاً على مساعدتك. "
)
DAYS_EN = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday"]
DAYS_AR = ["الأحد", "الاثنين", "الثلاثاء", "الأربعاء", "الخميس"]
CUSTOMERS = ["Linda Park", "Ahmed Saleh", "Maria Rossi", "فاطمة الزهراني", "John Miller", "نورة القحطاني"]


def encoded_word(s):
    if all(ord(c) < 128 for c in s):
        return s
    return "=?UTF-8?B?" + base64.b64encode(s.encode()).decode() + "?="


def body_part(text, ctype, cte):
    """A MIME body: headers and encoded text (CRLF)."""
    raw = text.replace("\n", "\r\n").encode()
    if cte == "base64":
        b64 = base64.b64encode(raw)
        data = b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    elif cte == "quoted-printable":
        data = quopri.encodestring(raw).replace(b"\n", b"\r\n")
    else:
        cte, data = "7bit" if all(b < 128 for b in raw) else "8bit", raw
    head = f'Content-Type: {ctype}; charset="UTF-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    return head.encode() + data + b"\r\n"


def html_of(text, arabic):
    attr = ' dir="rtl"' if arabic else ""
    paras = "".join(
        f"<div{attr}>{p.replace('&', '&amp;').replace('<', '&lt;')}</div><div><br></div>"
        for p in text.split("\n")
    )
    return f'<div dir="{"rtl" if arabic else "ltr"}">{paras}</div>\n'


def message(i, owner, inbox, date, tag, rng):
    """One request of 2-6 KB: plain or multipart/alternative, English or Arabic, some of them
    inline Gmail forwards of a customer's mail."""
    arabic = rng.random() < 0.4
    topics, fill, days = (AR_TOPICS, AR_FILL, DAYS_AR) if arabic else (EN_TOPICS, EN_FILL, DAYS_EN)
    subj_t, ask_t = rng.choice(topics)
    args = dict(n=1000 + i, amt=rng.randint(50, 9000), day=rng.choice(days))
    subject, ask = subj_t.format(**args), ask_t.format(**args)
    target = rng.randint(2100, 5900)
    forward = rng.random() < 0.25
    multipart = rng.random() < 0.45
    cte = rng.choice(["base64", "quoted-printable"]) if arabic else "8bit"
    words = fill.split(" ")
    offset = rng.randrange(len(words))
    breaks = [rng.random() < 0.04 for _ in range(300)]
    cust = rng.choice(CUSTOMERS)
    cust_addr = f"customer{i}@client{i % 97}.example"
    odate = email.utils.format_datetime(date - dt.timedelta(hours=rng.randint(1, 48)))
    arabic_sep = arabic and rng.random() < 0.5
    msgid = f"<{tag}.{i}.{rng.getrandbits(40):010x}@mail.example.test>"
    client_ip = f"192.0.2.{i % 250 + 1}"
    smtp_id = f"{rng.getrandbits(48):012x}"
    boundary = f"000000000000{rng.getrandbits(64):016x}"

    def build(budget):
        filler, k, length = [], 0, 0
        while length < budget:
            filler.append(words[(offset + k) % len(words)] + ("\n" if breaks[k % len(breaks)] else ""))
            length += len(filler[-1]) + 1
            k += 1
        filler = " ".join(filler).replace("\n ", "\n")
        subj = subject
        if forward:
            note = "أرجو التعامل مع هذا اليوم." if arabic else "Could you handle this today?"
            if arabic_sep:
                sep, labels = "---------- رسالة مُعاد توجيهها ----------", ("من", "التاريخ", "الموضوع", "إلى")
            else:
                sep, labels = "---------- Forwarded message ---------", ("From", "Date", "Subject", "To")
            text = (
                f"{note}\n\n{sep}\n{labels[0]}: {cust} <{cust_addr}>\n{labels[1]}: {odate}\n"
                f"{labels[2]}: {subject}\n{labels[3]}: Omar <{owner}>\n\n{ask}\n\n{filler}\n\n{cust}\n"
            )
            subj = "Fwd: " + subject
        else:
            text = f"{ask}\n\n{filler}\n\nOmar\n"
        head = (
            f"Received: from mail-client.example.test (mail-client.example.test [{client_ip}])\r\n"
            f"\tby mail.example.test with ESMTPSA id {smtp_id}\r\n"
            f"\tfor <{inbox}>; {email.utils.format_datetime(date)}\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Date: {email.utils.format_datetime(date)}\r\n"
            f"Message-ID: {msgid}\r\n"
            f"Subject: {encoded_word(subj)}\r\n"
            f"From: Omar <{owner}>\r\n"
            f"To: Tasks <{inbox}>\r\n"
        )
        if multipart:
            body = (
                f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
                + f"--{boundary}\r\n".encode()
                + body_part(text, "text/plain", cte)
                + f"\r\n--{boundary}\r\n".encode()
                + body_part(html_of(text, arabic), "text/html", cte)
                + f"\r\n--{boundary}--\r\n".encode()
            )
        else:
            body = body_part(text, "text/plain", cte)
        return head.encode() + body

    # The size grows linearly with the filler: aim at `target` bytes.
    small, large = len(build(100)), len(build(1100))
    budget = max(0, int(100 + (target - small) * 1000 / max(1, large - small)))
    return msgid, build(budget)


def with_pdf(raw, i, size, seed):
    """`raw`, a request of `message`, as multipart/mixed: its body first, then a scanned PDF
    of `size` bytes (base64), its own for each `i`."""
    cut = raw.index(b"\r\nContent-Type: ") + 2
    head, entity = raw[:cut], raw[cut:]
    prng = random.Random(seed * 7_000_003 + i)
    pdf = b"%PDF-1.4\n" + prng.randbytes(max(0, size - 9))
    boundary = f"mixed{prng.getrandbits(64):016x}"
    name = f"scan-{1000 + i}.pdf"
    return (
        head
        + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n--{boundary}\r\n'.encode()
        + entity
        + (
            f"\r\n--{boundary}\r\nContent-Type: application/pdf; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + base64.encodebytes(pdf).replace(b"\n", b"\r\n")
        + f"--{boundary}--\r\n".encode()
    )


def large_message(i, owner, inbox, date, size, rng):
    """A short request with a scanned document of `size` bytes attached (a PDF, base64)."""
    msgid = f"<large.{i}.{rng.getrandbits(40):010x}@mail.example.test>"
    boundary = f"000000000000{rng.getrandbits(64):016x}"
    pdf = b"%PDF-1.4\n" + rng.randbytes(max(0, size - 9))
    head = (
        f"MIME-Version: 1.0\r\n"
        f"Date: {email.utils.format_datetime(date)}\r\n"
        f"Message-ID: {msgid}\r\n"
        f"Subject: Scanned invoice {1000 + i}\r\n"
        f"From: Omar <{owner}>\r\n"
        f"To: Tasks <{inbox}>\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    )
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Please pay the attached invoice {1000 + i} and file it.\r\n\r\nOmar\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf; name=\"invoice-{1000 + i}.pdf\"\r\n"
        f"Content-Disposition: attachment; filename=\"invoice-{1000 + i}.pdf\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    b64 = base64.encodebytes(pdf).replace(b"\n", b"\r\n")
    return msgid, head.encode() + body.encode() + b64 + f"--{boundary}--\r\n".encode()


# --- subcommands --------------------------------------------------------------------------


FILL_SESSIONS = 4


def fill_part(port, owner, inbox, count, seed, part, every=0, pdf_size=0):
    """Messages part, part + FILL_SESSIONS, ... over one LMTP session; returns their bytes.
    With `every`, one message in `every` carries a PDF of `pdf_size` bytes."""
    now = dt.datetime.now(dt.timezone.utc)
    total = 0
    with smtplib.LMTP("127.0.0.1", port) as lmtp:
        lmtp.ehlo("bench.example.test")
        for i in range(part, count, FILL_SESSIONS):
            rng = random.Random(seed * 1_000_003 + i)
            date = now - dt.timedelta(seconds=int(90 * 86400 * (count - i) / count) + 60)
            _, raw = message(i, owner, inbox, date, "backlog", rng)
            if every and i % every == 0:
                raw = with_pdf(raw, i, pdf_size, seed)
            total += len(raw)
            refused = lmtp.sendmail(owner, [inbox], raw)
            if refused:
                raise RuntimeError(f"LMTP refused message {i}: {refused}")
    return total


def fill(port, owner, inbox, count, seed, every=0, pdf_size=0):
    """Deliver `count` requests to `inbox` over FILL_SESSIONS parallel LMTP sessions (one
    transaction per message), dated over the last 90 days like a real backlog; with `every`,
    one in `every` carries a `pdf_size`-byte PDF."""
    from concurrent.futures import ProcessPoolExecutor

    start = time.monotonic()
    with ProcessPoolExecutor(FILL_SESSIONS) as pool:
        parts = [pool.submit(fill_part, port, owner, inbox, count, seed, k, every, pdf_size)
                 for k in range(FILL_SESSIONS)]
        total = sum(p.result() for p in parts)
    print(f"fill_messages={count}")
    print(f"fill_bytes={total}")
    print(f"fill_seconds={time.monotonic() - start:.3f}")


def arrive(maildir):
    """Give each message of a Maildir the arrival its Date header claims (the file's mtime,
    which Dovecot serves as INTERNALDATE): a backlog that came in over 90 days, as the
    reference figures were measured on, most of it older than `ack_max_age`."""
    n = 0
    for sub in ("new", "cur"):
        folder = os.path.join(maildir, sub)
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                head = f.read(16384).split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
            date = re.search(r"^Date: (.+)$", head, re.M)
            if date:
                t = email.utils.parsedate_to_datetime(date.group(1).strip()).timestamp()
                os.utime(path, (t, t))
                n += 1
    print(f"arrived={n}")


def fill_large(port, owner, inbox, count, size, seed):
    """Deliver `count` requests with a `size`-byte attachment each to `inbox`, over LMTP."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    total = 0
    start = time.monotonic()
    with smtplib.LMTP("127.0.0.1", port) as lmtp:
        lmtp.ehlo("bench.example.test")
        for i in range(count):
            _, raw = large_message(i, owner, inbox, now - dt.timedelta(hours=count - i), size, rng)
            total += len(raw)
            refused = lmtp.sendmail(owner, [inbox], raw)
            if refused:
                raise RuntimeError(f"LMTP refused message {i}: {refused}")
    print(f"fill_messages={count}")
    print(f"fill_bytes={total}")
    print(f"fill_seconds={time.monotonic() - start:.3f}")


def idle_probe(imap_port, smtp_port, owner, password, count):
    """The server's own share of the latency: a plain IMAP client IDLEs on probe@ while the
    owner sends through Postfix; time from the 250 after DATA to the untagged EXISTS."""
    import socket

    user = "probe@example.test"
    s = socket.create_connection(("127.0.0.1", imap_port))
    f = s.makefile("rb")
    f.readline()

    def command(tag, text):
        s.sendall(f"{tag} {text}\r\n".encode())
        while True:
            line = f.readline()
            if not line:
                sys.exit("the IMAP server closed the probe connection")
            if line.startswith(tag.encode() + b" "):
                return line

    command("a", f"LOGIN {user} {password}")
    command("b", "SELECT INBOX")
    lat = []
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        smtp.login(owner, password)
        for i in range(count):
            s.sendall(b"c IDLE\r\n")
            f.readline()  # + idling
            smtp.sendmail(owner, [user], f"Subject: probe {i}\r\n\r\nprobe\r\n".encode())
            sent = time.monotonic()
            while b"EXISTS" not in f.readline():
                pass
            lat.append(time.monotonic() - sent)
            s.sendall(b"DONE\r\n")
            while not f.readline().startswith(b"c "):
                pass
    command("z", "LOGOUT")
    lat.sort()
    print(f"probe_p50_ms={lat[len(lat) // 2] * 1000:.1f}")
    print(f"probe_max_ms={lat[-1] * 1000:.1f}")


def proc_status(pid, key):
    """A `VmHWM`/`VmRSS` line of /proc/PID/status, in kB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def child_pid(pid):
    """The one child of `pid` (musaid under /usr/bin/time)."""
    for _ in range(200):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.005)
    sys.exit("musaid did not start under /usr/bin/time")


def open_db(path, proc=None, log_path=None):
    while not os.path.exists(path):
        if proc is not None and proc.poll() is not None:
            sys.exit(f"musaid exited before creating its database; see {log_path}")
        time.sleep(0.01)
    # Read-only, and never the writer: the daemon's lock is not disturbed.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)


def scalar(db, sql, *args):
    while True:
        try:
            return db.execute(sql, args).fetchone()[0]
        except sqlite3.OperationalError:
            # The schema may not exist yet right after the file appears.
            time.sleep(0.01)


def start_and_time_backlog(musaid, config, db_path, count, time_out, log_path, pid_file):
    """Start `musaid run` on a fresh state directory and poll every 10 ms (every 1 ms for the
    last tenth, so that the poll adds at most a millisecond to the time) until the
    `count`-th message row is committed. Returns the process, musaid's pid, the database,
    and the seconds from process start to the first and to the last row."""
    shutil.rmtree(os.path.dirname(db_path), ignore_errors=True)
    log = open(log_path, "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", "-o", time_out, musaid, "--config", config, "run"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    pid = child_pid(proc.pid)
    with open(pid_file, "w") as f:
        f.write(str(pid))
    db = open_db(db_path)
    first_at = None
    while True:
        # max(id) is one look at the rowid tree (count(*) reads them all): rows are only ever
        # added to this fresh database, so it is the count; confirmed by count(*) at the end.
        n = scalar(db, "SELECT max(id) FROM messages")
        if n and first_at is None:
            first_at = time.monotonic() - t0
        if n and n >= count and scalar(db, "SELECT count(*) FROM messages") >= count:
            break
        if proc.poll() is not None:
            sys.exit(f"musaid exited early; see {log_path}")
        time.sleep(0.001 if n and n * 10 >= count * 9 else 0.01)
    return proc, pid, db, first_at or 0.0, time.monotonic() - t0


def delay_proxy(target_port, one_way):
    """A TCP proxy on a free loopback port to `target_port` that holds every chunk of bytes
    `one_way` seconds before passing it on, each way: a server that far away. Runs in a
    thread for the life of the process; returns its port."""
    import asyncio
    import threading

    async def pipe(reader, writer):
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def forward():
            while True:
                due, data = await queue.get()
                if not data:
                    writer.close()
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        task = asyncio.create_task(forward())
        while True:
            data = await reader.read(1 << 16)
            queue.put_nowait((loop.time() + one_way, data))
            if not data:
                break
        await task

    async def handle(client_r, client_w):
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w),
                             return_exceptions=True)

    ready = threading.Event()
    port = []

    def run():
        async def serve():
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port.append(server.sockets[0].getsockname()[1])
            ready.set()
            async with server:
                await server.serve_forever()
        asyncio.run(serve())

    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    return port[0]


def remote(musaid, fetcher, config, db_path, count, imap_port, one_way_ms, time_out, log_path,
           pid_file):
    """The raw fetch and musaid's backlog ingest again, through a proxy that adds `one_way_ms`
    each way (a server a round trip of twice that away), once each."""
    port = delay_proxy(imap_port, one_way_ms / 1000)
    text = open(config).read().replace(f"port = {imap_port}\n", f"port = {port}\n", 1)
    far = config + ".remote"
    with open(far, "w") as f:
        f.write(text)
    line = subprocess.run([fetcher, far], check=True, capture_output=True, text=True).stdout
    raw = float(re.search(r"seconds=([0-9.]+)", line).group(1))
    proc, pid, db, _, took = start_and_time_backlog(musaid, far, db_path, count, time_out,
                                                    log_path, pid_file)
    db.close()
    stop(proc, pid)
    print(f"remote_raw_seconds={raw:.3f}")
    print(f"remote_musaid_seconds={took:.3f}")


def variant(musaid, config, db_path, count, runs, time_out, log_path, pid_file):
    """The backlog again with a variant of the desk's config or mailbox (a fresh database each
    time; the fastest of `runs` counts): its seconds, CPU seconds, the highest peak RSS of the
    runs, and the attachment files recorded."""
    times, hwm, files = [], 0, 0
    for _ in range(runs):
        proc, pid, db, _, took = start_and_time_backlog(musaid, config, db_path, count, time_out,
                                                        log_path, pid_file)
        times.append((took, cpu_seconds(pid)))
        hwm = max(hwm, proc_status(pid, "VmHWM"))
        files = scalar(db, "SELECT count(*) FROM attachments")
        db.close()
        stop(proc, pid)
    took, cpu = min(times)
    print(f"variant_seconds={took:.3f}")
    print(f"variant_cpu_seconds={cpu:.3f}")
    print("variant_runs=" + ", ".join(f"{t:.2f} s" for t, _ in times))
    print(f"variant_hwm_kb={hwm}")
    print(f"variant_attachments={files}")


def pct(values, p):
    """The p-th percentile (nearest rank) of sorted `values`."""
    if not values:
        return 0.0
    return values[min(len(values) - 1, max(0, int(math.ceil(p / 100 * len(values))) - 1))]


def stop(proc, pid):
    os.kill(pid, signal.SIGTERM)
    proc.wait(timeout=30)


def daemon_and_measure(musaid, config, db_path, count, latency_count, owner, inbox, smtp_port,
                       password, time_out, log_path, pid_file, runs):
    """Time the backlog `runs` times (a fresh database each time; the fastest counts), then,
    in the last run, wait for the daemon to settle and time SMTP-to-task latency for
    `latency_count` single messages; stop the daemon."""
    times = []
    for _ in range(runs - 1):
        proc, pid, db, _, took = start_and_time_backlog(musaid, config, db_path, count, time_out,
                                                        log_path, pid_file)
        times.append((took, cpu_seconds(pid)))
        db.close()
        stop(proc, pid)
    proc, pid, db, first_at, ingest_s = start_and_time_backlog(musaid, config, db_path, count,
                                                               time_out, log_path, pid_file)
    hwm_backlog = proc_status(pid, "VmHWM")
    cpu_backlog = cpu_seconds(pid)
    times.append((ingest_s, cpu_backlog))
    tasks = scalar(db, "SELECT count(*) FROM tasks")
    bookkeeping = scalar(db, "SELECT count(*) FROM tasks WHERE category = 'bookkeeping'")
    decisions = dict(db.execute("SELECT decision, count(*) FROM messages GROUP BY decision").fetchall())

    # Settled: the outbox sent what it may send now, then a few quiet seconds.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if scalar(db, "SELECT count(*) FROM outbox WHERE status = 'pending' AND not_before <= strftime('%s','now')") == 0:
            break
        time.sleep(0.2)
    time.sleep(3)
    rss_idle = proc_status(pid, "VmRSS")

    lat = []
    if latency_count:
        rng = random.Random(7)
        with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
            smtp.login(owner, password)
            for i in range(latency_count):
                # Dated now: each gets its acknowledgement and VA notification, as live mail does.
                now = dt.datetime.now(dt.timezone.utc)
                msgid, raw = message(100000 + i, owner, inbox, now, "latency", rng)
                smtp.sendmail(owner, [inbox], raw)  # returns on the 250 after DATA
                sent = time.monotonic()
                bare = msgid.strip("<>")
                while True:
                    got = db.execute(
                        "SELECT 1 FROM messages WHERE message_id = ? AND task_id IS NOT NULL",
                        (bare,),
                    ).fetchone()
                    if got:
                        break
                    if time.monotonic() - sent > 30:
                        sys.exit(f"no task for {msgid} within 30 s; see {log_path}")
                    time.sleep(0.002)
                lat.append(time.monotonic() - sent)
    hwm_all = proc_status(pid, "VmHWM")
    stop(proc, pid)

    lat.sort()
    best = min(times)
    print(f"ingest_seconds={best[0]:.3f}")
    print(f"ingest_cpu_seconds={best[1]:.2f}")
    print("ingest_runs=" + ", ".join(f"{t:.2f} s" for t, _ in times))
    print(f"ingest_first_row_seconds={first_at:.3f}")
    print(f"ingest_tasks={tasks}")
    print(f"ingest_bookkeeping={bookkeeping}")
    print("ingest_decisions=" + ",".join(f"{k}:{v}" for k, v in sorted(decisions.items())))
    print(f"hwm_backlog_kb={hwm_backlog}")
    print(f"rss_idle_kb={rss_idle}")
    print(f"hwm_all_kb={hwm_all}")
    print(f"latency_count={len(lat)}")
    print(f"latency_p50_ms={pct(lat, 50) * 1000:.1f}")
    print(f"latency_p95_ms={pct(lat, 95) * 1000:.1f}")
    print(f"latency_max_ms={(lat[-1] if lat else 0) * 1000:.1f}")


# --- a peer: Debian's imapfilter on the same backlog ---------------------------------------


def rule_patterns(rules_file, subject_rule, body_rule):
    """The subject regex of one rule and the body regex of another, from a rule file."""
    import tomllib

    with open(rules_file, "rb") as f:
        rules = {r.get("name"): r for r in tomllib.load(f).get("rule", [])}
    try:
        return rules[subject_rule]["match"]["subject"], rules[body_rule]["match"]["body"]
    except KeyError as e:
        sys.exit(f"{rules_file} has no rule {subject_rule} with match.subject and "
                 f"{body_rule} with match.body ({e})")


def raw_matches(maildir, subject_re, body_re):
    """How many messages of a Maildir match either regex on their raw bytes, the way
    imapfilter matches them: the Subject header as it stands (encoded words are not decoded)
    and the body as it stands (base64 and quoted-printable are not decoded). Returns the
    number of messages and of matches."""
    subject = re.compile(subject_re.encode())
    body = re.compile(body_re.encode())
    total = hits = 0
    for sub in ("new", "cur"):
        folder = os.path.join(maildir, sub)
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), "rb") as f:
                raw = f.read()
            head, sep, text = raw.partition(b"\r\n\r\n")
            if not sep:
                head, _, text = raw.partition(b"\n\n")
            head = re.sub(rb"\r?\n[ \t]+", b" ", head)
            subj = next((line for line in head.split(b"\n") if line.lower().startswith(b"subject:")), b"")
            total += 1
            hits += bool(subject.search(subj) or body.search(text))
    return total, hits


def imap_count(port, user, password, mailbox):
    with imaplib.IMAP4("127.0.0.1", port) as imap:
        imap.login(user, password)
        typ, data = imap.status(mailbox, "(MESSAGES)")
        imap.logout()
    m = re.search(rb"MESSAGES (\d+)", data[0] or b"") if typ == "OK" else None
    if not m:
        sys.exit(f"STATUS {mailbox} of {user} failed: {typ} {data}")
    return int(m.group(1))


def lua_string(s):
    """A Lua long string holding `s` verbatim (no escapes are processed inside)."""
    level = 0
    while f"]{'=' * level}]" in s:
        level += 1
    eq = "=" * level
    return f"[{eq}[{s}]{eq}]"


def imapfilter(imap_port, password, rules_file, maildir, home, users):
    """Sort each user's copy of the backlog with imapfilter: a Lua config with musaid's
    bookkeeping rules as regexes (subject OR body) that moves the matches to a folder.
    Each run is timed from process start to exit; the fastest counts. Every run must have
    moved exactly the messages the regexes match and left the rest."""
    subject_re, body_re = rule_patterns(rules_file, "bookkeeping-subject", "bookkeeping-attachment-body")
    total, expected = raw_matches(maildir, subject_re, body_re)
    v = subprocess.run(["imapfilter", "-V"], capture_output=True, text=True)
    version = (v.stdout + v.stderr).split()
    times = []
    for user in users:
        config = os.path.join(home, f"{user}.lua")
        with open(config, "w") as f:
            f.write(f"""-- Written by scripts/bench.py: musaid's bookkeeping rules, as imapfilter sees them.
options.info = false
options.starttls = false  -- plaintext to the private Dovecot on loopback
options.certificates = false
options.timeout = 120
local desk = IMAP {{
    server = '127.0.0.1',
    port = {imap_port},
    username = '{user}',
    password = '{password}',
}}
desk:create_mailbox('Bookkeeping')
local all = desk.INBOX:select_all()
local hits = all:match_subject({lua_string(subject_re)})
    + all:match_body({lua_string(body_re)})
hits:move_messages(desk['Bookkeeping'])
""")
        start = time.monotonic()
        run = subprocess.run(["imapfilter", "-c", config], env={**os.environ, "HOME": home},
                             capture_output=True, text=True)
        took = time.monotonic() - start
        if run.returncode != 0:
            sys.exit(f"imapfilter failed for {user}: {run.stdout}{run.stderr}")
        moved = imap_count(imap_port, user, password, "Bookkeeping")
        left = imap_count(imap_port, user, password, "INBOX")
        if moved != expected or moved + left != total:
            sys.exit(f"imapfilter for {user} moved {moved} and left {left} of {total} messages; "
                     f"the regexes match {expected}")
        times.append(took)
    print(f"imapfilter_version={version[1] if len(version) > 1 else '?'}")
    print(f"imapfilter_seconds={min(times):.3f}")
    print("imapfilter_runs=" + ", ".join(f"{t:.2f} s" for t in times))
    print(f"imapfilter_messages={total}")
    print(f"imapfilter_moved={expected}")


# --- window opening to acknowledgement -------------------------------------------------------


def window(musaid, template, config, db_path, timezone, count, lead, owner, inbox, smtp_port,
           password, log_path, pid_file):
    """A contract whose only window opens `lead` seconds from now (a daily cron window, to the
    second); `count` requests sent through Postfix before it opens each leave an
    acknowledgement waiting. Times the opening to each acknowledgement's commit as sent
    (the sender records it right after the server's 250; polled every 2 ms)."""
    import zoneinfo

    opening = math.ceil(time.time()) + lead
    local = dt.datetime.fromtimestamp(opening, zoneinfo.ZoneInfo(timezone))
    cron = f"{local.second} {local.minute} {local.hour} * * *"
    with open(template) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace("@WINDOW@", f'{{ cron = "{cron}", for = "1h" }}'))
    shutil.rmtree(os.path.dirname(db_path), ignore_errors=True)
    log = open(log_path, "wb")
    proc = subprocess.Popen([musaid, "--config", config, "run"], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    with open(pid_file, "w") as f:
        f.write(str(proc.pid))

    def acks_sent():
        return scalar(db, "SELECT count(*) FROM outbox WHERE kind = 'ack' AND sent_at IS NOT NULL")

    rng = random.Random(11)
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        smtp.login(owner, password)
        for i in range(count):
            now = dt.datetime.now(dt.timezone.utc)
            _, raw = message(200000 + i, owner, inbox, now, "window", rng)
            smtp.sendmail(owner, [inbox], raw)
    db = open_db(db_path, proc, log_path)
    # Every request a task with its acknowledgement waiting, well before the opening.
    while True:
        queued = scalar(db, "SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'pending'")
        if queued >= count:
            break
        if acks_sent():
            sys.exit(f"an acknowledgement was sent before the window opened; see {log_path}")
        if proc.poll() is not None:
            sys.exit(f"musaid exited early; see {log_path}")
        if time.time() > opening - 1:
            sys.exit(f"only {queued} of {count} acknowledgements queued 1 s before the window "
                     f"opens; give it a longer lead; see {log_path}")
        time.sleep(0.05)
    ready = opening - time.time()
    while time.time() < opening - 0.5:
        if acks_sent():
            sys.exit(f"an acknowledgement was sent before the window opened; see {log_path}")
        time.sleep(0.05)
    seen = []
    early = 0
    while len(seen) < count:
        n = acks_sent()
        t = time.time()
        if n > len(seen):
            if t < opening:
                early += n - len(seen)
            seen.extend([t - opening] * (n - len(seen)))
        if t > opening + 60:
            break
        time.sleep(0.002)
    before = scalar(db, "SELECT count(*) FROM outbox WHERE kind = 'ack' AND sent_at < ?", opening)
    acked_before = scalar(db, "SELECT count(*) FROM tasks WHERE acked_at < ?", opening)
    notified = scalar(db, "SELECT count(*) FROM outbox WHERE kind = 'notify' AND sent_at IS NOT NULL")
    db.close()
    stop(proc, proc.pid)
    with open(pid_file, "w") as f:
        f.write("")
    if early or before or acked_before:
        sys.exit(f"GUARANTEE BROKEN: acknowledgements sent before the window opened "
                 f"(seen early {early}, sent_at before {before}, acked_at before {acked_before}); "
                 f"see {log_path}")
    if len(seen) < count:
        sys.exit(f"only {len(seen)} of {count} acknowledgements sent within 60 s of the opening; "
                 f"see {log_path}")
    seen.sort()
    print(f"window_cron={cron}")
    print(f"window_count={len(seen)}")
    print(f"window_ready_before_s={ready:.1f}")
    print(f"window_notified={notified}")
    print(f"window_first_ms={seen[0] * 1000:.0f}")
    print(f"window_p50_ms={pct(seen, 50) * 1000:.0f}")
    print(f"window_p95_ms={pct(seen, 95) * 1000:.0f}")
    print(f"window_max_ms={seen[-1] * 1000:.0f}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "fill":
        # fill PORT OWNER INBOX COUNT SEED [EVERY PDF_SIZE]
        port, owner, inbox, count, seed, *pdfs = args
        every, pdf_size = (int(pdfs[0]), int(pdfs[1])) if pdfs else (0, 0)
        fill(int(port), owner, inbox, int(count), int(seed), every, pdf_size)
    elif cmd == "arrive":
        arrive(args[0])
    elif cmd == "fill-large":
        port, owner, inbox, count, size, seed = args
        fill_large(int(port), owner, inbox, int(count), int(size), int(seed))
    elif cmd == "daemon":
        (musaid, config, db_path, count, latency_count, owner, inbox, smtp_port, password,
         time_out, log_path, pid_file, runs) = args
        daemon_and_measure(musaid, config, db_path, int(count), int(latency_count), owner, inbox,
                           int(smtp_port), password, time_out, log_path, pid_file, int(runs))
    elif cmd == "remote":
        (musaid, fetcher, config, db_path, count, imap_port, one_way_ms, time_out, log_path,
         pid_file) = args
        remote(musaid, fetcher, config, db_path, int(count), int(imap_port), float(one_way_ms),
               time_out, log_path, pid_file)
    elif cmd == "variant":
        musaid, config, db_path, count, runs, time_out, log_path, pid_file = args
        variant(musaid, config, db_path, int(count), int(runs), time_out, log_path, pid_file)
    elif cmd == "idle-probe":
        imap_port, smtp_port, owner, password, count = args
        idle_probe(int(imap_port), int(smtp_port), owner, password, int(count))
    elif cmd == "imapfilter":
        imap_port, password, rules_file, maildir, home, *users = args
        imapfilter(int(imap_port), password, rules_file, maildir, home, users)
    elif cmd == "window":
        (musaid, template, config, db_path, timezone, count, lead, owner, inbox, smtp_port,
         password, log_path, pid_file) = args
        window(musaid, template, config, db_path, timezone, int(count), int(lead), owner, inbox,
               int(smtp_port), password, log_path, pid_file)
    elif cmd == "sample":
        # One sample message, for looking at: bench.py sample N
        rng = random.Random(int(args[0]))
        _, raw = message(int(args[0]), "owner@example.test", "tasks@example.test",
                         dt.datetime.now(dt.timezone.utc), "sample", rng)
        sys.stdout.buffer.write(raw)
    else:
        sys.exit(f"unknown subcommand {cmd}")


if __name__ == "__main__":
    main()
