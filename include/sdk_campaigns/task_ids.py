"""The campaign DAG's task ids: the DAG file names its tasks with these, and task bodies that read
another task's XCom (build_image's image, the validation summary) pull by them.

Six stages (see stages.py for what each runs): plan (with the environment check); per SDK, in one
mapped task group, build_image (with its job definition), run_tests and collect; publish (with
validation), verdict."""

PLAN = "plan"
PER_SDK = "sdk"  # the mapped task group of build_image, run_tests and collect (ids unprefixed)
BUILD_IMAGE = "build_image"
RUN_TESTS = "run_tests"
COLLECT = "collect"
PUBLISH = "publish"
VERDICT = "verdict"
FIND_BREAKS = "find_breaks"
START_CULPRIT_FINDER = "start_culprit_finder"

# XComs beside a task's return value
STACK_XCOM_KEY = "stack"  # plan's: the stack's resources, as check_environment found them
VALIDATION_XCOM_KEY = "validation"  # publish's: the Great Expectations summary
