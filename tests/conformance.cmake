# conformance.cmake - ONNX backend node tests through `onyx check`, and the docs/ops.md check.
# Included by tests/CMakeLists.txt.
#
# conformance_node_cpu  (quick): every folder of the libonnx-testdata node tests on the CPU
#                       provider; cases whose ops have no kernel are reported as skipped inside
#                       the run, so the test fails only on wrong results or errors.
# conformance_node_cuda (gpu):   the same with --provider cuda; exits 77 (skipped) when the CUDA
#                       provider cannot be created here.
# ops_doc_current       (quick): docs/ops.md equals `onyx ops --markdown`; ops_cuda_doc_current the
#                       same for docs/ops-cuda.md in builds with CUDA.

set(ONYX_NODE_TEST_DIR /usr/share/libonnx-testdata/data/node CACHE PATH
    "Folder of the ONNX backend node tests (package libonnx-testdata)")
set(ONYX_CONFORMANCE_TOLERANCES ${CMAKE_CURRENT_SOURCE_DIR}/conformance/tolerances.txt)

foreach(provider cpu cuda)
  set(name conformance_node_${provider})
  if(IS_DIRECTORY ${ONYX_NODE_TEST_DIR})
    add_test(NAME ${name}
      COMMAND $<TARGET_FILE:onyx_cli> check --provider ${provider} --skip-unavailable
              --tolerances ${ONYX_CONFORMANCE_TOLERANCES} --all ${ONYX_NODE_TEST_DIR})
  else()
    add_test(NAME ${name}
      COMMAND sh -c "echo '${ONYX_NODE_TEST_DIR} does not exist: install libonnx-testdata or set ONYX_NODE_TEST_DIR'; exit 77")
  endif()
  if(provider STREQUAL "cuda")
    set(label gpu)
  else()
    set(label quick)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${label} SKIP_RETURN_CODE 77 TIMEOUT 600)
endforeach()

add_test(NAME ops_doc_current
  COMMAND $<TARGET_FILE:onyx_cli> ops --check ${PROJECT_SOURCE_DIR}/docs/ops.md)
set_tests_properties(ops_doc_current PROPERTIES LABELS quick)
if(ONYX_HAVE_CUDA)
  # The CUDA kernel tables are compiled wherever nvcc is (no GPU needed to list them).
  add_test(NAME ops_cuda_doc_current
    COMMAND $<TARGET_FILE:onyx_cli> ops --provider cuda --check ${PROJECT_SOURCE_DIR}/docs/ops-cuda.md)
  set_tests_properties(ops_cuda_doc_current PROPERTIES LABELS quick)
endif()
