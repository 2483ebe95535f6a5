"""Drives asyncep with the Azure SDK's generic long-running-operation poller,
unmodified: `LROPoller` with its default `LROBasePolling`, as a new user of
an Azure-style 202 API would. Run by the integration test `interop` against
a live server; exits non-zero on the first expectation that fails.

usage: python azure_lro.py BASE_URL
"""

import json
import sys

from azure.core import PipelineClient
from azure.core.exceptions import HttpResponseError
from azure.core.polling import LROPoller
from azure.core.polling.base_polling import LROBasePolling
from azure.core.rest import HttpRequest

BASE = sys.argv[1].rstrip("/")
CLIENT = PipelineClient(base_url=BASE)


def send(method, path, body=None):
    request = HttpRequest(method, BASE + path, json=body)
    return CLIENT.send_request(request, _return_pipeline_response=True)


def result_of(pipeline_response):
    """The final GET reads the job document: the handler's value is its result."""
    return json.loads(pipeline_response.http_response.text())["result"]


def poller(method, path, body=None):
    """The poller of a submit, and the id of its job."""
    initial = send(method, path, body)
    response = initial.http_response
    assert response.status_code == 202, f"{method} {path}: expected 202, got {response.status_code}"
    job_id = json.loads(response.text())["id"]
    return LROPoller(CLIENT, initial, result_of, LROBasePolling(timeout=0.2)), job_id


def expect_failure(lro, what):
    try:
        value = lro.result(timeout=60)
    except HttpResponseError as error:
        print(f"ok: {what} raised {type(error).__name__}: {error.message}")
        return
    raise AssertionError(f"{what}: the poller returned {value!r} instead of raising")


# A job that takes a while (three steps of 300 ms): the poller must wait for
# its end and return its value, not report success at the first poll.
done, _ = poller("POST", "/stepper/3")
value = done.result(timeout=60)
assert value == 3, f"the completed job's result: expected 3, got {value!r}"
assert done.status() == "Succeeded", done.status()
print("ok: a completed job's result came back:", value)

# A job that fails for good.
expect_failure(poller("PATCH", "/doomed")[0], "a failed job")

# A job canceled while it runs.
stoppable, job_id = poller("POST", "/stoppable")
canceled = send("DELETE", f"/jobs/{job_id}").http_response.status_code
assert canceled in (200, 202), f"DELETE answered {canceled}"
expect_failure(stoppable, "a canceled job")
print("all expectations held")
