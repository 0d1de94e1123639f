"""Monitoring, as the seed asks: its CloudWatch validation command, run with the AWS CLI after
`eval "$(leadshop env)"`, returns the bucket's size; request metrics (a metrics configuration,
as Terraform's aws_s3_bucket_metric writes) count the requests made; datapoints survive a
restart; access follows IAM; every protocol CloudWatch clients speak (botocore's JSON default,
Smithy RPC v2 CBOR, the query protocol) is answered; and with a small budget the cost estimate
fires each threshold's alarm exactly once at a test webhook.

Waits poll; nothing asserts a duration.
"""

import datetime
import os
import http.server
import json
import subprocess
import threading
import time
import uuid

import boto3
import botocore.exceptions
import botocore.model
import pytest

from leadshop_proc import REPO, Leadshop
from test_lifecycle import wait_for

ASSETS = "leadshop-assets"


def client(env, service="s3"):
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")


def today():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def seed_command(env):
    """The seed's validation command verbatim, with today's date for its example's."""
    cmd = ("aws cloudwatch get-metric-statistics --namespace AWS/S3 --metric-name BucketSizeBytes "
           "--dimensions Name=BucketName,Value=leadshop-assets --start-time 2025-01-23T00:00:00Z "
           "--end-time 2025-01-23T23:59:59Z --period 3600 --statistics Maximum").replace("2025-01-23", today())
    out = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def stored_bytes(s3):
    total = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=ASSETS):
        total += sum(v["Size"] for v in page.get("Versions", []))
    return total


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    data = tmp_path_factory.mktemp("monitoring") / "data"
    s = Leadshop(data, config="[metrics]\nstorage_sample_seconds = 1\nbucket_labels = true\n").start()
    yield s
    s.stop()


def test_the_seeds_cloudwatch_command_returns_what_is_stored(srv):
    env = srv.env()
    s3 = client(env)
    for n, size in enumerate([1000, 25_000, 300_000]):
        s3.put_object(Bucket=ASSETS, Key=f"reports/size-{n}.pdf", Body=b"r" * size)
    want = stored_bytes(s3)
    assert want >= 326_000

    def answered():
        points = seed_command(env)["Datapoints"]
        return points if points and points[0]["Maximum"] == want else None
    points = wait_for("the day's BucketSizeBytes to be the stored bytes", answered)
    assert len(points) == 1 and points[0]["Unit"] == "Bytes"
    # As on AWS, per StorageType too, and the object count; with boto3.
    cw = client(env, "cloudwatch")
    start = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    r = cw.get_metric_statistics(
        Namespace="AWS/S3", MetricName="BucketSizeBytes", Period=86400, Statistics=["Average"],
        Dimensions=[{"Name": "BucketName", "Value": ASSETS}, {"Name": "StorageType", "Value": "StandardStorage"}],
        StartTime=start, EndTime=start + datetime.timedelta(days=1))
    assert [p["Average"] for p in r["Datapoints"]] == [want]
    assert r["Datapoints"][0]["Timestamp"] == start
    versions = sum(len(p.get("Versions", [])) for p in s3.get_paginator("list_object_versions").paginate(Bucket=ASSETS))
    r = cw.get_metric_statistics(
        Namespace="AWS/S3", MetricName="NumberOfObjects", Period=86400, Statistics=["Maximum"],
        Dimensions=[{"Name": "BucketName", "Value": ASSETS}, {"Name": "StorageType", "Value": "AllStorageTypes"}],
        StartTime=start, EndTime=start + datetime.timedelta(days=1))
    assert [p["Maximum"] for p in r["Datapoints"]] == [versions]
    names = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
             for m in cw.list_metrics(Namespace="AWS/S3")["Metrics"]}
    assert ("BucketSizeBytes", (("BucketName", ASSETS), ("StorageType", "StandardStorage"))) in names
    # /metrics shows the same storage.
    assert srv.metrics()[f'leadshop_bucket_bytes{{bucket="{ASSETS}",storage_class="STANDARD"}}'] == want


def test_at_its_defaults_the_first_upload_shows_in_cloudwatch_within_a_sample(tmp_path):
    """Issue 29: tried as a new user would, BucketSizeBytes stayed at 0 for up to five minutes
    after the first uploads. The storage sample now reads running totals kept with every
    write, every 10 s by default: the seed's command answers the stored bytes after the next
    sample, and a delete shows the same way."""
    srv = Leadshop(tmp_path / "data").start()
    try:
        env = srv.env()
        s3 = client(env)
        s3.put_object(Bucket=ASSETS, Key="reports/first.pdf", Body=b"f" * 12_345)

        def stored(want):
            def answered():
                points = seed_command(env)["Datapoints"]
                return points if points and points[0]["Maximum"] == want else None
            return answered
        wait_for("the first upload's bytes in BucketSizeBytes", stored(12_345))
        s3.put_bucket_versioning(Bucket=ASSETS, VersioningConfiguration={"Status": "Enabled"})
        for v in s3.list_object_versions(Bucket=ASSETS)["Versions"]:
            s3.delete_object(Bucket=ASSETS, Key=v["Key"], VersionId=v["VersionId"])
        wait_for("BucketSizeBytes back at 0 once the version is gone", stored(0))
    finally:
        srv.stop()


def test_request_metrics_count_the_requests_made_and_survive_a_restart(srv):
    env = srv.env()
    s3, cw = client(env), client(env, "cloudwatch")
    prefix = f"metered-{uuid.uuid4().hex[:8]}/"
    s3.put_bucket_metrics_configuration(Bucket=ASSETS, Id="Metered", MetricsConfiguration={
        "Id": "Metered", "Filter": {"Prefix": prefix}})
    got = s3.get_bucket_metrics_configuration(Bucket=ASSETS, Id="Metered")["MetricsConfiguration"]
    assert got == {"Id": "Metered", "Filter": {"Prefix": prefix}}
    listed = s3.list_bucket_metrics_configurations(Bucket=ASSETS)["MetricsConfigurationList"]
    assert [c["Id"] for c in listed] == ["EntireBucket", "Metered"], "metrics.json's, then this one"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_metrics_configuration(Bucket=ASSETS, Id="NoSuchId")
    assert e.value.response["Error"]["Code"] == "NoSuchConfiguration"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    puts, gets, misses, size = 6, 4, 3, 2048
    for n in range(puts):
        s3.put_object(Bucket=ASSETS, Key=f"{prefix}{n}", Body=b"m" * size)
    for n in range(gets):
        s3.get_object(Bucket=ASSETS, Key=f"{prefix}{n}")["Body"].read()
    for n in range(misses):
        with pytest.raises(botocore.exceptions.ClientError):
            s3.get_object(Bucket=ASSETS, Key=f"{prefix}missing-{n}")
    s3.get_object(Bucket=ASSETS, Key="reports/size-0.pdf")  # another prefix: not counted
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    dims = [{"Name": "BucketName", "Value": ASSETS}, {"Name": "FilterId", "Value": "Metered"}]

    def total(metric, stat="Sum"):
        r = cw.get_metric_statistics(Namespace="AWS/S3", MetricName=metric, Dimensions=dims,
                                     StartTime=start, EndTime=end, Period=60, Statistics=[stat])
        return sum(p[stat] for p in r["Datapoints"])

    expected = {"AllRequests": puts + gets + misses, "PutRequests": puts, "GetRequests": gets + misses,
                "4xxErrors": misses, "5xxErrors": 0, "BytesUploaded": puts * size,
                "BytesDownloaded": gets * size}
    wait_for("request metrics", lambda: total("AllRequests") == expected["AllRequests"])
    for metric, value in expected.items():
        assert total(metric) == value, metric
    assert 0 < total("TotalRequestLatency", "Maximum")
    # GetMetricData answers the same numbers.
    r = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[{
        "Id": "all", "MetricStat": {"Metric": {"Namespace": "AWS/S3", "MetricName": "AllRequests",
                                               "Dimensions": dims}, "Period": 600, "Stat": "Sum"}}])
    assert sum(r["MetricDataResults"][0]["Values"]) == expected["AllRequests"]
    # Kept durably: the same after a restart.
    srv.stop()
    srv.start()
    cw = client(srv.env(), "cloudwatch")
    for metric, value in expected.items():
        assert total(metric) == value, metric
    s3 = client(srv.env())
    s3.delete_bucket_metrics_configuration(Bucket=ASSETS, Id="Metered")
    left = s3.list_bucket_metrics_configurations(Bucket=ASSETS)["MetricsConfigurationList"]
    assert left == [{"Id": "EntireBucket"}], "only metrics.json's configuration is left"
    s3.delete_bucket_metrics_configuration(Bucket=ASSETS, Id="EntireBucket")
    assert "MetricsConfigurationList" not in s3.list_bucket_metrics_configurations(Bucket=ASSETS)


def test_every_cloudwatch_protocol_and_iam(srv, monkeypatch):
    env = srv.env()
    now = datetime.datetime.now(datetime.timezone.utc)
    answers = {}
    for proto in ["json", "smithy-rpc-v2-cbor", "query"]:
        monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", (proto,))
        cw = client(env, "cloudwatch")
        assert cw.meta.service_model.resolved_protocol == proto
        r = cw.get_metric_statistics(
            Namespace="AWS/S3", MetricName="BucketSizeBytes", Period=86400, Statistics=["Maximum", "SampleCount"],
            Dimensions=[{"Name": "BucketName", "Value": ASSETS}],
            StartTime=now - datetime.timedelta(days=1), EndTime=now + datetime.timedelta(days=1))
        answers[proto] = [(p["Timestamp"], p["Maximum"]) for p in r["Datapoints"]]
        assert answers[proto], proto
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.get_metric_statistics(Namespace="AWS/S3", MetricName="BucketSizeBytes", Period=60,
                                     Statistics=["Average"], StartTime=now, EndTime=now - datetime.timedelta(hours=1))
        assert e.value.response["Error"]["Code"] == "InvalidParameterValue", proto
        assert len(cw.list_metrics(Namespace="AWS/S3", MetricName="NumberOfObjects")["Metrics"]) == 2
    assert answers["json"] == answers["smithy-rpc-v2-cbor"] == answers["query"]
    monkeypatch.undo()
    # The application key's policy grants no CloudWatch action: refused, as by IAM.
    app = client(srv.env("app"), "cloudwatch")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.list_metrics(Namespace="AWS/S3")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    bad = boto3.client("cloudwatch", endpoint_url=env["AWS_ENDPOINT_URL"], verify=env["AWS_CA_BUNDLE"],
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key="x" * 40,
                       region_name="us-east-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_metrics(Namespace="AWS/S3")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


class Hook(http.server.BaseHTTPRequestHandler):
    received: list = []
    fail_first = True

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Hook.fail_first:
            # The first attempt fails: the alarm must retry.
            Hook.fail_first = False
            self.send_response(500)
        else:
            Hook.received.append(json.loads(body))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def away_from_a_month_boundary(day_seconds):
    """With shortened days a billing month is 30 of them, aligned to the epoch: a test that
    must stay in one month waits out the last two minutes of one."""
    month = 30 * day_seconds
    left = month - time.time() % month
    if left < 120:
        time.sleep(left + 1)


def test_a_small_budget_fires_each_threshold_once_at_the_webhook(tmp_path):
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    budget = json.loads((REPO / "config" / "budget.json").read_text())
    # $0.001: 160 PUTs (tier 1, $0.005 per 1,000) cross 80 %, 200 cross 100 %.
    budget["BudgetLimit"]["Amount"] = "0.001"
    (tmp_path / "budget.json").write_text(json.dumps(budget))
    away_from_a_month_boundary(3600)
    config = (f"day_seconds = 3600\n[budget]\ndocument = \"{tmp_path / 'budget.json'}\"\n"
              f"webhook_url = \"http://127.0.0.1:{hook.server_address[1]}/sns\"\n")
    srv = Leadshop(tmp_path / "data", config=config).start()
    try:
        s3 = client(srv.env())
        def kinds():
            msgs = [json.loads(n["Message"]) for n in Hook.received]
            return sorted(f"{m['notificationType']}>{m['threshold']:g}" for m in msgs)
        def a_round_after(t: float):
            """Waits for a usage round that began after `t` (the worker counts, prices,
            evaluates the alarm and delivers its webhooks within one round)."""
            wait_for("a usage round after the requests",
                     lambda: srv.metrics()["leadshop_usage_last_round_timestamp_seconds"] > t)

        for n in range(150):
            s3.put_object(Bucket=ASSETS, Key=f"budget/{n}", Body=b"b")
        # 150 PUTs are 75 % of the budget: once a round has priced them (and so could have
        # fired), the actual thresholds have not fired.
        a_round_after(time.time())
        assert srv.metrics()['leadshop_cost_month_to_date_dollars{bucket="all"}'] >= 150 * 0.005 / 1000 * 0.999
        assert not any(k.startswith("ACTUAL") for k in kinds()), kinds()
        for n in range(150, 250):
            s3.put_object(Bucket=ASSETS, Key=f"budget/{n}", Body=b"b")
        wait_for("all three alarms", lambda: kinds() == ["ACTUAL>100", "ACTUAL>80", "FORECASTED>100"])
        n0 = Hook.received[0]
        assert n0["Type"] == "Notification" and n0["TopicArn"].startswith("arn:aws:sns:us-east-1:")
        msg = json.loads(n0["Message"])
        assert msg["budgetLimit"] == 0.001 and msg["actualSpend"] > 0
        m = srv.metrics()
        assert m['leadshop_budget_alarm{type="ACTUAL",threshold="80"}'] == 1
        assert m['leadshop_budget_notifications_pending'] == 0
        # More spending and a restart fire nothing again this month.
        for n in range(20):
            s3.put_object(Bucket=ASSETS, Key=f"budget/more-{n}", Body=b"b")
        srv.stop()
        srv.start()
        # A round after the restart has evaluated the alarm and delivered what it had to.
        a_round_after(time.time())
        assert srv.metrics()['leadshop_cost_month_to_date_dollars{bucket="all"}'] >= 170 * 0.005 / 1000 * 0.999
        assert len(Hook.received) == 3
        state = json.loads((tmp_path / "data" / "budget-alarms.json").read_text())
        assert sorted(state["fired"]) == ["ACTUAL>100", "ACTUAL>80", "FORECASTED>100"] and not state["outbox"]
    finally:
        srv.stop()
        hook.shutdown()


def test_the_dashboard_draws_its_charts_with_data(tmp_path):
    from test_browser import BROWSER, SCREENSHOTS, require_browser
    from test_console import keys_of
    require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    budget = json.loads((REPO / "config" / "budget.json").read_text())
    budget["BudgetLimit"]["Amount"] = "0.0005"
    (tmp_path / "budget.json").write_text(json.dumps(budget))
    away_from_a_month_boundary(3600)
    srv = Leadshop(tmp_path / "data", config=(
        f"day_seconds = 3600\n[metrics]\nstorage_sample_seconds = 1\n"
        f"[budget]\ndocument = \"{tmp_path / 'budget.json'}\"\n")).start()
    try:
        env = srv.env()
        s3 = client(env)
        s3.put_bucket_metrics_configuration(Bucket=ASSETS, Id="EntireBucket",
                                            MetricsConfiguration={"Id": "EntireBucket"})
        for n in range(120):
            s3.put_object(Bucket=ASSETS, Key=f"dash/{n}", Body=b"d" * 4096)
        for n in range(20):
            s3.get_object(Bucket=ASSETS, Key=f"dash/{n}")["Body"].read()
        wait_for("the alarm", lambda: json.loads((tmp_path / "data" / "budget-alarms.json").read_text())["fired"]
                 if (tmp_path / "data" / "budget-alarms.json").exists() else None)
        keys = keys_of(srv)
        run = {**os.environ, "CONSOLE_URL": srv.endpoints["console"] + "/", "SHOTS": str(SCREENSHOTS),
               "ADMIN_KEY": keys["admin"][0], "ADMIN_SECRET": keys["admin"][1]}
        out = subprocess.run(["node", str(BROWSER / "dashboard.mjs")], env=run, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert "failure" not in report, report.get("failure")
        # The one expected: the page asks for a session before signing in (401).
        assert all("401" in e for e in report["consoleErrors"]), report["consoleErrors"]
        charts = {c["id"]: c for c in report["charts"]}
        for chart in ("chart-cost", "chart-storage", "chart-objects", "chart-requests", "chart-latency"):
            assert charts[chart]["points"] > 0 and charts[chart]["inked"] > 1000, (chart, charts[chart])
        assert "Budget alarm" in report["banner"] and "Budget alarm" in report["bannerOnBuckets"]
        assert report["actual"].startswith("$") and report["actual"] != "$0.0000"
        # The data's health: the scrubber's first pass and the disk's free space.
        assert "Integrity (scrubber)" in report["health"]["scrub"], report["health"]
        assert "% free" in report["health"]["disk"] and "GiB" in report["health"]["disk"], report["health"]
        assert (SCREENSHOTS / "console-dashboard.png").stat().st_size > 20_000
        # The app key may not read metrics: the dashboard API refuses it, as CloudWatch would.
        import requests
        s = requests.Session()
        r = s.post(srv.endpoints["console"] + "/api/session", timeout=10,
                   json={"accessKeyId": keys["app"][0], "secretAccessKey": keys["app"][1]})
        assert r.status_code == 200
        assert s.get(srv.endpoints["console"] + "/api/dashboard", timeout=10).status_code == 403
    finally:
        srv.stop()
