# Model fixtures (tests/models, see tests/models/README.md): one CTest test per folder in the ONNX
# backend-test layout (model.onnx + test_data_set_N), run by `onyx check` on the CPU provider.
# Float16 fixtures (folder name contains "fp16") are compared with float16 tolerances; the README says why.
# model_greedy_replay replays every greedy generation reference (generation_refs.json) through onyx
# sessions over the exported files and checks the token ids.

if(TARGET onyx_cli)
  # model.onnx folders, and the per-file folders of multi-file layouts (e.g. t5-ts17/decoder_model/).
  file(GLOB ONYX_MODEL_CASE_DIRS LIST_DIRECTORIES true CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_SOURCE_DIR}/models/*/test_data_set_0
    ${CMAKE_CURRENT_SOURCE_DIR}/models/*/*/test_data_set_0)
  list(SORT ONYX_MODEL_CASE_DIRS)
  foreach(case_dir ${ONYX_MODEL_CASE_DIRS})
    if(NOT IS_DIRECTORY ${case_dir})
      continue()
    endif()
    get_filename_component(model_dir ${case_dir} DIRECTORY)
    file(RELATIVE_PATH model_name ${CMAKE_CURRENT_SOURCE_DIR}/models ${model_dir})
    string(REPLACE "/" "." model_name ${model_name})
    if(model_name MATCHES "fp16")
      set(tolerances --atol 2e-2 --rtol 1e-2)
    else()
      set(tolerances --atol 1e-4 --rtol 1e-3)
    endif()
    add_test(NAME model.${model_name}
      COMMAND $<TARGET_FILE:onyx_cli> check --provider cpu ${tolerances} ${model_dir})
    # A fixture exists to be run: a case `onyx check` skips (an op without a kernel) fails the test.
    set_tests_properties(model.${model_name} PROPERTIES LABELS quick TIMEOUT 300
      FAIL_REGULAR_EXPRESSION "[1-9][0-9]* skipped")
    # The same on the GPU (label gpu; exits 77 where the cuda provider cannot be created).
    add_test(NAME model_cuda.${model_name}
      COMMAND $<TARGET_FILE:onyx_cli> check --provider cuda --skip-unavailable ${tolerances} ${model_dir})
    set_tests_properties(model_cuda.${model_name} PROPERTIES LABELS gpu TIMEOUT 300 SKIP_RETURN_CODE 77
      FAIL_REGULAR_EXPRESSION "[1-9][0-9]* skipped")
  endforeach()
endif()

add_executable(model_greedy_replay ${CMAKE_CURRENT_SOURCE_DIR}/models/greedy_replay.c)
target_include_directories(model_greedy_replay PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_compile_options(model_greedy_replay PRIVATE ${ONYX_WARNINGS})
target_compile_definitions(model_greedy_replay PRIVATE _GNU_SOURCE)
target_link_libraries(model_greedy_replay PRIVATE onyx_static)
add_test(NAME model_greedy_replay COMMAND model_greedy_replay ${CMAKE_CURRENT_SOURCE_DIR}/models)
set_tests_properties(model_greedy_replay PROPERTIES LABELS quick TIMEOUT 300)
add_test(NAME model_greedy_replay_cuda COMMAND model_greedy_replay ${CMAKE_CURRENT_SOURCE_DIR}/models cuda)
set_tests_properties(model_greedy_replay_cuda PROPERTIES LABELS gpu TIMEOUT 300 SKIP_RETURN_CODE 77)
