"""Which CPUs ``helios up``'s API child keeps to: the setting, read and checked."""

from __future__ import annotations

import os

import pytest

from helios.apps.embedded.cpus import api_cpus, check_setting, parse_cpu_list, running_on
from helios.apps.settings import InvalidSetting, Settings


def test_a_cpu_list_takes_numbers_and_ranges_as_taskset_writes_them() -> None:
    assert parse_cpu_list("0") == {0}
    assert parse_cpu_list("0,2-3") == {0, 2, 3}
    assert parse_cpu_list(" 1 , 4-6 ,4") == {1, 4, 5, 6}


@pytest.mark.parametrize("text", ["", "a", "1-", "-1", "3-1", "1,,2", "1.5", "0x1"])
def test_a_cpu_list_that_is_not_one_is_refused_with_the_part_that_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=r"CPU number|range"):
        parse_cpu_list(text)


def test_one_keeps_the_api_to_the_cpu_it_runs_on_when_there_are_several() -> None:
    assert api_cpus("one", {0, 1}, running_on=1) == {1}
    assert api_cpus("one", {3, 5, 7}, running_on=5) == {5}
    # Not known, or not one of the allowed: the first allowed.
    assert api_cpus("one", {3, 5, 7}) == {3}
    assert api_cpus("one", {3, 5, 7}, running_on=0) == {3}
    # A single CPU: nothing to keep to, the scheduler has no other choice.
    assert api_cpus("one", {2}, running_on=2) is None


def test_this_process_says_which_cpu_it_runs_on() -> None:
    cpu = running_on()
    assert cpu is not None
    assert cpu in os.sched_getaffinity(0)


def test_any_leaves_the_api_to_the_scheduler() -> None:
    assert api_cpus("any", {0, 1, 2, 3}) is None


def test_a_list_keeps_the_api_to_the_allowed_cpus_it_names() -> None:
    assert api_cpus("1-2", {0, 1, 2, 3}) == {1, 2}
    assert api_cpus("1,9", {0, 1}) == {1}
    with pytest.raises(ValueError, match=r"none of the CPUs this process may run on \(0, 1\)"):
        api_cpus("4-5", {0, 1})


def test_the_setting_is_one_by_default_and_checked_when_read() -> None:
    assert Settings.from_env({}).up_api_cpus == "one"
    assert Settings.from_env({"HELIOS_UP_API_CPUS": "ANY"}).up_api_cpus == "any"
    assert Settings.from_env({"HELIOS_UP_API_CPUS": "0,2-3"}).up_api_cpus == "0,2-3"
    with pytest.raises(InvalidSetting, match=r"HELIOS_UP_API_CPUS must be 'one', 'any' or"):
        Settings.from_env({"HELIOS_UP_API_CPUS": "first"})
    assert check_setting("X", "one") == "one"
