"""The offline runner reads template.yaml with SAM CLI's own YAML loader, so it sees the template
exactly as `sam build` / `sam deploy` do - not as a hand-written PyYAML loader would."""

from samcli.yamlhelper import yaml_parse

from coursegen_local.template import PROJECT_ROOT, SamTemplate


def test_the_runner_reads_the_template_as_sam_does():
    assert SamTemplate().doc == yaml_parse((PROJECT_ROOT / "template.yaml").read_text())


def test_short_tags_and_dates_read_as_sam_reads_them(tmp_path):
    # PyYAML alone makes a date of an unquoted version and "Fn::Condition" of !Condition; SAM does neither
    template = tmp_path / "template.yaml"
    template.write_text("AWSTemplateFormatVersion: 2010-09-09\n"
                        "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Condition: !Condition IsProd\n"
                        "    Properties: {TopicName: !Sub '${AWS::StackName}-x', KmsMasterKeyId: !GetAtt Key.Arn}\n")
    doc = SamTemplate(template).doc
    assert doc["AWSTemplateFormatVersion"] == "2010-09-09"
    topic = doc["Resources"]["Topic"]
    assert topic["Condition"] == {"Condition": "IsProd"}
    assert topic["Properties"] == {"TopicName": {"Fn::Sub": "${AWS::StackName}-x"}, "KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}
