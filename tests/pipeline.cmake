# pipeline.cmake - the generative pipelines through the onyx binary (label quick): `onyx pipeline
# text-generation|summarization|translation_XX_to_YY`, `onyx translate`, `onyx generate` in text
# mode and in --input-ids mode, over the folders of tests/data/pipeline (fixtures linked beside
# tokenizers made by make_generation_tokenizers.py). Each test checks the output's shape with
# PASS_REGULAR_EXPRESSION; the token-level checks are test_pipeline_generation's.
# Included by tests/CMakeLists.txt.

if(TARGET onyx_cli)
  set(gen_data ${CMAKE_CURRENT_SOURCE_DIR}/data/pipeline)
  # gen_cli_case(NAME REGEX ARGS...): `onyx ARGS`, passing when its output matches REGEX
  function(gen_cli_case name regex)
    add_test(NAME ${name} COMMAND $<TARGET_FILE:onyx_cli> ${ARGN})
    set_tests_properties(${name} PROPERTIES LABELS quick TIMEOUT 120 PASS_REGULAR_EXPRESSION "${regex}")
  endfunction()
  gen_cli_case(cli_text_generation_json "^\\[\\{\"generated_text\": \"Hello world[^\n]*\"\\}\\]\n\\[\\{\"generated_text\": \"The cat"
    pipeline text-generation --model "${gen_data}/gpt2-text-generation" --max-new-tokens 6 --json "Hello world" "The cat")
  gen_cli_case(cli_text_generation_sequences "^\\[\\{\"generated_text\": \"[^\n]*\"\\}, \\{\"generated_text\": \"[^\n]*\"\\}\\]\n$"
    pipeline text-generation --model "${gen_data}/gpt2-text-generation" --num-beams 3 --num-return-sequences 2 --max-new-tokens 4 --json --no-full-text Hello)
  gen_cli_case(cli_summarization_json "^\\[\\{\"summary_text\": \"[^\n]*\"\\}\\]\n$"
    pipeline summarization --model "${gen_data}/t5-text2text" --max-new-tokens 6 --min-new-tokens 1 --num-beams 2 --json "the cat sat on the mat")
  gen_cli_case(cli_translation_t5_json "^\\[\\{\"translation_token_ids\": \\[0(, [0-9]+)+\\]\\}\\]\n$"
    pipeline translation_en_to_de --model "${gen_data}/t5-text2text" --max-new-tokens 4 --num-beams 1 --json --return-tensors "the house")
  gen_cli_case(cli_translate_json "^\\[\\{\"translation_text\": \"__fr__[^\n]*\"\\}\\]\n\\[\\{\"translation_text\": \"__fr__"
    translate --model "${gen_data}/m2m100-translation" --src-lang en --tgt-lang fr --max-new-tokens 5 --batch-size 1 --json "Hello world" "good morning")
  gen_cli_case(cli_translate_unknown_language "unknown target language code 'xx' \\(the tokenizer has no token '__xx__'\\)"
    translate --model "${gen_data}/m2m100-translation" --src-lang en --tgt-lang xx Hello)
  gen_cli_case(cli_translate_no_tokenizer "has no tokenizer"
    translate --model "${CMAKE_CURRENT_SOURCE_DIR}/models/m2m100-ts14" --src-lang en --tgt-lang fr Hello)
  gen_cli_case(cli_generate_text "^Hello[^\n]*\n$"
    generate --model "${gen_data}/gpt2-text-generation" --max-new-tokens 3 Hello)
  # onyx bench --generate: the CSV line's fields (model, provider, batch, input length, new
  # tokens, beams, runs, p50, p90, first token, per token, tokens/s, peak device bytes)
  gen_cli_case(cli_bench_generate_csv "gpt2-ts17,cpu,1,8,4,1,2,[0-9.]+,[0-9.]+,[0-9.]+,-?[0-9.]+,[0-9.]+,0\n$"
    bench --generate --model "${CMAKE_CURRENT_SOURCE_DIR}/models/gpt2-ts17" --new-tokens 4 --runs 2 --warmup 0 --csv)
  gen_cli_case(cli_bench_generate_beam_seq2seq "m2m100-ts14,cpu,2,5,4,3,2,[0-9.]+,[0-9.]+,[0-9.]+,-?[0-9.]+,[0-9.]+,0\n$"
    bench --generate --model "${CMAKE_CURRENT_SOURCE_DIR}/models/m2m100-ts14" --batch 2 --input-len 5 --num-beams 3
    --new-tokens 4 --runs 2 --warmup 0 --csv)
  gen_cli_case(cli_bench_generate_bad_runs "--runs wants an integer >= 1, got '0'"
    bench --generate --model "${CMAKE_CURRENT_SOURCE_DIR}/models/gpt2-ts17" --runs 0)
  gen_cli_case(cli_generate_ids "^1,2,3(,[0-9]+)+\n$"
    generate --model "${CMAKE_CURRENT_SOURCE_DIR}/models/gpt2-ts17" --input-ids 1,2,3 --max-new-tokens 3)
  # inputs from stdin, run in batches of two
  add_test(NAME cli_text_generation_stdin
    COMMAND sh -c "printf 'one\\ntwo\\nthree\\n' | '$<TARGET_FILE:onyx_cli>' pipeline text-generation --model '${gen_data}/gpt2-text-generation' --max-new-tokens 3 --batch-size 2 --json")
  set_tests_properties(cli_text_generation_stdin PROPERTIES LABELS quick TIMEOUT 120
    PASS_REGULAR_EXPRESSION "^\\[\\{\"generated_text\": \"one[^\n]*\n\\[\\{\"generated_text\": \"two[^\n]*\n\\[\\{\"generated_text\": \"three[^\n]*\n$")
endif()
